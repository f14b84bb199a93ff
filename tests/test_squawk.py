"""The migrations' offline scripts pass squawk, PostgreSQL's migration linter (issue 6)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from verify_triggers import migrations_api

ROOT = Path(__file__).resolve().parents[1]


def _squawk() -> str:
    found = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which("squawk")
    assert found, "squawk-cli is part of the test extra"
    return found


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_squawk(), "--config", str(ROOT / ".squawk.toml"), str(path)],
        capture_output=True, text=True, cwd=ROOT,
    )


@pytest.mark.parametrize("direction", ["upgrade", "downgrade"])
def test_the_offline_migration_scripts_pass_squawk(tmp_path, direction):
    config = migrations_api.make_config(None)
    if direction == "upgrade":
        script = migrations_api.offline_script(config, "head")
    else:
        script = migrations_api.offline_script(config, "base", downgrade_from="head")
    assert "verify_triggers" in script
    path = tmp_path / f"{direction}.sql"
    path.write_text(script)

    result = _lint(path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_squawk_flags_an_index_built_without_concurrently(tmp_path):
    path = tmp_path / "blocking.sql"
    path.write_text("CREATE INDEX blocking_idx ON app.supplier_products (supplier_price);\n")

    result = _lint(path)

    assert result.returncode != 0
    assert "require-concurrent-index-creation" in result.stdout

"""What a single-row confirm and unconfirm costs in instructions: ``python -m benchmarks.instructions``.

Latency under pgbench at 8 clients on a shared 2-CPU machine spreads by a third between rounds
of one database, more than any one piece of the sync is worth. Instructions do not move with
the machine's load. This builds the databases of ``benchmarks.floor`` (the sync, the bare
tables, the two trigger floors, and with ``--without`` the sync with a piece taken out) in a
scratch cluster of its own, then feeds each database's single-user backend the same confirm and
unconfirm cycles, twice (``--cycles 50,250``), under ``valgrind --tool=callgrind``: the
difference of the two counts over the difference of cycles is one cycle's cost, start-up
excluded. Statements are sent unprepared, one transaction each; ``fsync``,
``synchronous_commit`` and ``full_page_writes`` are off. Results in
docs/benchmarks-decisions.md ("A trigger around the writes, and each piece of the sync, counted").
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import databases as db
from benchmarks.floor import PIECES, build, database_names

PORT = 5499
SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
SETTING_ARGS = [arg for setting in SETTINGS for arg in ("-c", setting)]
# The cycle pgbench runs in benchmarks.floor and benchmarks.run, its match id (:id) filled in.
CYCLE = db.HERE / "pgbench" / "confirm_cycle.sql"
_COLLECTED = re.compile(r"Collected : (\d+)")
_FAILED = re.compile(r"\b(ERROR|FATAL|PANIC):\s")


def find_bindir(explicit: str | None) -> Path | None:
    """The server's binaries: --pg-bin, else pg_config's, else the newest /usr/lib/postgresql/*/bin."""
    candidates = [explicit] if explicit else []
    if not explicit and shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(done.stdout.strip())
    if not explicit:
        candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[::-1]
    for candidate in candidates:
        if candidate and (Path(candidate) / "postgres").exists() and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def cycles_file(path: Path, n: int, pct: int, count: int) -> None:
    """``count`` of pgbench's cycles (its statements, not its meta-commands) on the same random
    unconfirmed matches (id % 100 >= pct), seeded."""
    statements = [line for line in CYCLE.read_text().splitlines() if line and not line.startswith(("--", "\\"))]
    rng = random.Random(7)
    ids = [100 * rng.randrange(0, n // 100) + rng.randrange(pct, 100) for _ in range(count)]
    path.write_text("".join(f"{statement.replace(':id', str(i))}\n" for i in ids for statement in statements))


class Cluster:
    """A scratch cluster in a temporary folder, run as ``os_user`` when this runs as root."""

    def __init__(self, bindir: Path, folder: Path, os_user: str | None):
        self.bindir, self.folder, self.data = bindir, folder, folder / "data"
        self.prefix = ["runuser", "-u", os_user, "--"] if os_user else []

    def run(self, *args: str, stdin=None, stdout=subprocess.DEVNULL) -> subprocess.CompletedProcess:
        return subprocess.run(self.prefix + list(args), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                              text=True, check=False)

    def init(self) -> None:
        done = self.run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")

    def start(self) -> db.Server:
        options = " ".join([f"-p {PORT}", f"-k {self.folder}", "-c listen_addresses=''",
                            *(f"-c {setting}" for setting in SETTINGS)])
        done = self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                        "-l", str(self.folder / "server.log"), "start")
        if done.returncode:
            raise RuntimeError(f"the scratch server did not start: {done.stderr.strip()[-500:]}")
        return db.Server(f"postgresql://postgres@/postgres?host={self.folder}&port={PORT}")

    def stop(self) -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def count(self, database: str, cycles: Path) -> int:
        """Instructions of one single-user backend fed ``cycles``; fails on any ERROR it printed."""
        out = self.folder / f"{database}.{cycles.stem}.callgrind"
        with open(cycles) as stdin:
            done = self.run("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            str(self.bindir / "postgres"), "--single", "-D", str(self.data), *SETTING_ARGS,
                            database, stdin=stdin, stdout=subprocess.PIPE)
        failed = [line for line in (done.stdout + done.stderr).splitlines() if _FAILED.search(line)]
        if done.returncode or failed:
            raise RuntimeError(f"{database}: the cycles failed: {(failed or [done.stderr.strip()[-300:]])[0]}")
        found = _COLLECTED.search(done.stderr)
        if not found:
            raise RuntimeError(f"{database}: no instruction count in valgrind's output")
        return int(found.group(1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--pct", type=int, default=1)
    parser.add_argument("--cycles", default="50,250", help="two numbers of cycles (default 50,250)")
    parser.add_argument("--without", nargs="*", choices=PIECES, default=[],
                        help="also count the sync without each of these pieces (benchmarks/sql/without_*.sql)")
    parser.add_argument("--pg-bin", default=None,
                        help="the server's bin folder (default: pg_config's, else /usr/lib/postgresql/*/bin)")
    parser.add_argument("--os-user", default="postgres", help="run the server as this user when run as root")
    args = parser.parse_args(argv)
    try:
        low, high = sorted(int(c) for c in args.cycles.split(","))
    except ValueError:
        parser.error(f"--cycles: not two numbers: {args.cycles!r}")
    if low == high or low < 1:
        parser.error(f"--cycles: two different positive numbers, not {args.cycles!r}")
    if args.n < 100 or args.n % 100:
        parser.error("--n: a multiple of 100")
    if not shutil.which("valgrind"):
        parser.exit(2, "python -m benchmarks.instructions: error: valgrind not found (apt-get install valgrind)\n")
    bindir = find_bindir(args.pg_bin)
    if bindir is None:
        parser.exit(2, "python -m benchmarks.instructions: error: no PostgreSQL server binaries found (--pg-bin)\n")
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="vt_instructions_"))
    try:
        if as_root:
            shutil.chown(folder, args.os_user)
        cluster = Cluster(bindir, folder, args.os_user if as_root else None)
        cluster.init()
        names = database_names("vt_instr", args.without)
        server = cluster.start()
        try:
            build(server, names, args.n, args.pct, args.without)
        finally:
            cluster.stop()
        files = {}
        for count in (low, high):
            files[count] = folder / f"cycles_{count}.sql"
            cycles_file(files[count], args.n, args.pct, count)
            os.chmod(files[count], 0o644)
        per_cycle = {role: (cluster.count(name, files[high]) - cluster.count(name, files[low])) / (high - low)
                     for role, name in names.items()}
        print(f"N = {args.n:,}, {args.pct}% confirmed, {bindir}, instructions per confirm-and-unconfirm cycle:")
        for role, value in per_cycle.items():
            print(f"  {role:24s} {value / 1000:9,.0f}k  {value / per_cycle['bare']:5.2f}x bare", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"python -m benchmarks.instructions: error: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

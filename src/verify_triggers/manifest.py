"""What each revision installs, derived from its SQL files, for ``status`` to compare.

A small per-revision manifest names the SQL files that define objects; the expected
state at a revision is those files folded from the base up to it, so a later revision's
``CREATE OR REPLACE FUNCTION`` (or ``DROP`` then ``CREATE``) overrides an earlier
definition. A revision missing from the manifest contributes ``triggers/<rev>_install.sql``
and ``triggers/<rev>_indexes.sql`` when they exist.

The definitions are read from the files as rendered for the target schema:

* functions: the dollar-quoted body (compared byte for byte with ``pg_proc.prosrc``),
  the ``SET`` options (``proconfig``), ``SECURITY DEFINER`` (``prosecdef``), the
  language, volatility, arguments and result type; a SQL-standard body
  (``RETURN ...``) is compared with ``pg_get_function_sqlbody`` after normalising;
* triggers: the ``CREATE TRIGGER`` statement, compared with ``pg_get_triggerdef``
  after normalising (case, whitespace, quotes, parentheses and the casts the
  server adds when it stores an expression);
* tables and indexes: presence (and, for an index, that its build did not fail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alembic.script import ScriptDirectory

from . import resources

# revision -> the SQL files (under sql/) whose CREATE/DROP statements define its objects.
MANIFEST: dict[str, tuple[str, ...]] = {
    "0001": ("triggers/0001_indexes.sql", "triggers/0001_install.sql"),
    "0002": ("triggers/0002_indexes.sql", "triggers/0002_install.sql",
             "triggers/0002_drop_old_indexes.sql"),
}
# An index the sync needs only when the application has no index of its own that serves
# the same lookups: index -> the query (under sql/) naming such an index of the application's.
COVERED_BY: dict[str, str] = {
    "verify_triggers_sp_match_idx": "triggers/0002_product_index.sql",
}
# A revision missing from MANIFEST contributes these files of its own, when they exist.
CONVENTIONAL = ("triggers/{revision}_indexes.sql", "triggers/{revision}_install.sql")

PREFIX = "verify_triggers_"


@dataclass(frozen=True)
class FunctionDef:
    name: str
    args: str
    result: str
    language: str
    security_definer: bool
    volatility: str  # 'i', 's' or 'v', as pg_proc.provolatile
    config: tuple[str, ...]
    body: str
    sql_body: bool  # a SQL-standard body (RETURN / BEGIN ATOMIC), stored parsed


@dataclass(frozen=True)
class TriggerDef:
    name: str
    table: str
    definition: str


@dataclass
class Expected:
    """The objects a revision leaves installed, keyed by name."""

    revision: str | None
    functions: dict[str, FunctionDef] = field(default_factory=dict)
    triggers: dict[str, TriggerDef] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)


def revision_files(revision: str) -> tuple[str, ...]:
    if revision in MANIFEST:
        return MANIFEST[revision]
    names = (pattern.format(revision=revision) for pattern in CONVENTIONAL)
    return tuple(name for name in names if resources.sql_path(name).is_file())


def chain(revision: str | None) -> list[str]:
    """The revisions from the base up to ``revision``, oldest first."""
    if revision is None:
        return []
    script = ScriptDirectory(str(resources.migrations_dir()))
    return [rev.revision for rev in reversed(list(script.iterate_revisions(revision, "base")))]


def expected(revision: str | None, schema: str) -> Expected:
    """The objects installed at ``revision`` (none at the base) for ``schema``."""
    result = Expected(revision)
    for rev in chain(revision):
        for name in revision_files(rev):
            for statement in split_statements(resources.render(name, schema)):
                _apply(result, statement)
    return result


# --- statements ---------------------------------------------------------------------

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, comments removed, quoted text kept intact."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "/" and text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            current.append(" ")
            continue
        if ch in "'\"":
            end = i + 1
            while end < n:
                if text[end] == ch:
                    if end + 1 < n and text[end + 1] == ch:
                        end += 2
                        continue
                    break
                end += 1
            current.append(text[i:end + 1])
            i = end + 1
            continue
        if ch == "$":
            match = _DOLLAR.match(text, i)
            if match and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
                tag = match.group(0)
                end = text.find(tag, match.end())
                end = n if end < 0 else end + len(tag)
                current.append(text[i:end])
                i = end
                continue
        if ch == ";":
            statement = "".join(current).strip()
            if statement:
                statements.append(statement)
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    statement = "".join(current).strip()
    if statement:
        statements.append(statement)
    return statements


_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_QUALIFIED = rf"(?:{_IDENT}\s*\.\s*)?({_IDENT})"
_CREATE_FUNCTION = re.compile(
    rf"^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+{_QUALIFIED}\s*\(", re.IGNORECASE)
_CREATE_TRIGGER = re.compile(
    rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+({_IDENT})\s.*?\sON\s+{_QUALIFIED}",
    re.IGNORECASE | re.DOTALL)
_CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_QUALIFIED}", re.IGNORECASE)
_CREATE_INDEX = re.compile(
    rf"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?({_IDENT})",
    re.IGNORECASE)
_DROP = re.compile(
    rf"^DROP\s+(FUNCTION|TRIGGER|TABLE|INDEX)\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?{_QUALIFIED}",
    re.IGNORECASE)


def _unquote(identifier: str) -> str:
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def _apply(result: Expected, statement: str) -> None:
    if match := _CREATE_FUNCTION.match(statement):
        name = _unquote(match.group(1))
        if name.startswith(PREFIX):
            result.functions[name] = parse_function(name, statement, match.end())
    elif match := _CREATE_TRIGGER.match(statement):
        name = _unquote(match.group(1))
        if name.startswith(PREFIX):
            result.triggers[name] = TriggerDef(name, _unquote(match.group(2)), statement)
    elif match := _CREATE_TABLE.match(statement):
        name = _unquote(match.group(1))
        if name.startswith(PREFIX) and name not in result.tables:
            result.tables.append(name)
    elif match := _CREATE_INDEX.match(statement):
        name = _unquote(match.group(1))
        if name.startswith(PREFIX) and name not in result.indexes:
            result.indexes.append(name)
    elif match := _DROP.match(statement):
        kind, name = match.group(1).upper(), _unquote(match.group(2))
        {"FUNCTION": result.functions, "TRIGGER": result.triggers}.get(kind, {}).pop(name, None)
        if kind == "TABLE" and name in result.tables:
            result.tables.remove(name)
        if kind == "INDEX" and name in result.indexes:
            result.indexes.remove(name)


# --- functions ----------------------------------------------------------------------

_CLAUSE = (r"RETURNS|LANGUAGE|IMMUTABLE|STABLE|VOLATILE|STRICT|CALLED|LEAKPROOF|NOT|"
           r"SECURITY|EXTERNAL|PARALLEL|COST|ROWS|SUPPORT|SET|AS|RETURN|BEGIN|WINDOW|TRANSFORM")
_CLAUSE_START = re.compile(rf"(?:^|\s)({_CLAUSE})\b", re.IGNORECASE)


def _closing_paren(text: str, start: int) -> int:
    depth, i = 1, start
    while i < len(text):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        elif text[i] in "'\"":
            i = text.find(text[i], i + 1)
        i += 1
    raise ValueError("unbalanced parentheses in CREATE FUNCTION")


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_function(name: str, statement: str, args_start: int) -> FunctionDef:
    args_end = _closing_paren(statement, args_start)
    args = ", ".join(
        re.split(r"\s+(?:DEFAULT\b|=)", arg, maxsplit=1, flags=re.IGNORECASE)[0].strip()
        for arg in _split_top_level(statement[args_start:args_end])
    )
    rest = statement[args_end + 1:]

    body, sql_body = "", False
    header = rest
    body_match = re.search(r"(?:^|\s)AS\s+(\$[A-Za-z0-9_]*\$)", rest, re.IGNORECASE)
    string_match = re.search(r"(?:^|\s)AS\s+'", rest, re.IGNORECASE)
    standard_match = re.search(r"(?:^|\s)(RETURN\s|BEGIN\s+ATOMIC\b)", rest, re.IGNORECASE)
    if body_match:
        tag = body_match.group(1)
        start = body_match.end()
        end = rest.find(tag, start)
        body = rest[start:end]
        header = rest[:body_match.start()] + " " + rest[end + len(tag):]
    elif string_match:
        start = string_match.end()
        end = start
        while True:
            end = rest.find("'", end)
            if end + 1 < len(rest) and rest[end + 1] == "'":
                end += 2
                continue
            break
        body = rest[start:end].replace("''", "'")
        header = rest[:string_match.start()] + " " + rest[end + 1:]
    elif standard_match:
        body = rest[standard_match.start(1):].strip()
        header = rest[:standard_match.start(1)]
        sql_body = True

    clauses: dict[str, list[str]] = {}
    config: list[str] = []
    starts = [m.start(1) for m in _CLAUSE_START.finditer(header)] + [len(header)]
    for begin, finish in zip(starts, starts[1:]):
        clause = header[begin:finish].strip()
        keyword = clause.split(None, 1)[0].upper()
        value = clause[len(keyword):].strip()
        if keyword == "SET":
            match = re.match(r"([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|\bTO\b)\s*(.+)$", value,
                             re.IGNORECASE | re.DOTALL)
            if match:
                config.append(f"{match.group(1).lower()}={match.group(2).strip()}")
        else:
            clauses.setdefault(keyword, []).append(value)

    volatility = "v"
    for keyword, code in (("IMMUTABLE", "i"), ("STABLE", "s"), ("VOLATILE", "v")):
        if keyword in clauses:
            volatility = code
    security = any(v.upper().startswith("DEFINER") for v in clauses.get("SECURITY", []))
    language = (clauses.get("LANGUAGE") or ["sql"])[0].strip().strip("'\"").lower()
    result = (clauses.get("RETURNS") or [""])[0]
    return FunctionDef(
        name=name, args=args, result=result, language=language, security_definer=security,
        volatility=volatility, config=tuple(config), body=body, sql_body=sql_body,
    )


# --- comparison ---------------------------------------------------------------------

_TYPE_ALIASES = [
    (r"\bint4\b|\bint\b", "integer"), (r"\bint8\b", "bigint"), (r"\bint2\b", "smallint"),
    (r"\bbool\b", "boolean"), (r"\bvarchar\b", "character varying"),
    (r"\bfloat8\b", "double precision"), (r"\btimestamptz\b", "timestamp with time zone"),
]
_CAST = re.compile(
    r"::\s*(?:character\s+varying|double\s+precision|timestamp\s+with(?:out)?\s+time\s+zone"
    r"|[a-z_][a-z0-9_]*)(?:\s*\[\s*\])*"
)


def normalize(text: str, schema: str | None = None) -> str:
    """A definition reduced to what survives the server's round trip.

    Case, whitespace, double quotes, parentheses, explicit casts and the ``pg_catalog.``
    and ``<schema>.`` qualifiers are dropped: the server re-quotes identifiers,
    parenthesises expressions and adds casts when it stores a trigger's WHEN clause or a
    SQL-standard function body, and qualifies names only when the session's search_path
    does not find them.
    """
    text = text.lower().replace('"', "")
    text = re.sub(r"\bexecute\s+procedure\b", "execute function", text)
    text = _CAST.sub("", text)
    for qualifier in ("pg_catalog", schema.lower().replace('"', "") if schema else None):
        if qualifier:
            text = re.sub(r"(?<![\w$])" + re.escape(qualifier) + r"\s*\.\s*", "", text)
    text = re.sub(r"[\s()]+", "", text)
    return text.rstrip(";")


def normalize_type(text: str) -> str:
    text = text.lower()
    for pattern, replacement in _TYPE_ALIASES:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s+", "", text.replace('"', "").replace("pg_catalog.", ""))


def normalize_config(entries) -> tuple[str, ...]:
    out = []
    for entry in entries or ():
        key, _, value = entry.partition("=")
        value = re.sub(r"[\s'\"]", "", value).lower()
        out.append(f"{key.strip().lower()}={value}")
    return tuple(sorted(out))


def function_differences(expected: FunctionDef, found: dict, schema: str | None = None) -> list[str]:
    """What differs between a function's expected definition and its pg_proc row."""
    diffs = []
    if normalize_type(expected.args) != normalize_type(found["args"]):
        diffs.append("arguments")
    if normalize_type(expected.result) != normalize_type(found["result"]):
        diffs.append("result type")
    if expected.language != found["language"]:
        diffs.append("language")
    if expected.security_definer != found["security_definer"]:
        diffs.append("SECURITY DEFINER")
    if expected.volatility != found["volatility"]:
        diffs.append("volatility")
    if normalize_config(expected.config) != normalize_config(found["config"]):
        diffs.append("SET options")
    if expected.sql_body:
        if normalize(expected.body, schema) != normalize(found["sql_body"] or "", schema):
            diffs.append("body")
    elif _body(expected.body) != _body(found["source"] or ""):
        diffs.append("body")
    return diffs


def _body(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def trigger_differs(expected: TriggerDef, definition: str, schema: str | None = None) -> bool:
    return normalize(expected.definition, schema) != normalize(definition, schema)

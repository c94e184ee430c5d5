"""The SQL of a Redshift load, statement for statement what ``RedshiftLoader``
(``packages/warehouse/src/redshift-loader.ts`` + ``load-sql.ts``) issues: one transaction; a
temporary stage ``LIKE`` the target; ``COPY … FORMAT AS PARQUET`` (or JSON) from a COPY manifest
per partition; partition values bound into the stage through a files table when the files lack
the partition columns; then append (INSERT), replace (DELETE + INSERT) or merge (checks, then
``MERGE`` or delete-insert). Pure functions: no connection, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

STAGE_TABLE = "tributary_stage"
FILES_TABLE = "tributary_stage_files"
KEYS_SHOWN = 5
REDACTED = "<redacted>"


@dataclass(frozen=True)
class Statement:
    text: str
    values: tuple | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the Redshift type, e.g. DECIMAL(38,18)
    not_null: bool = False


@dataclass(frozen=True)
class TableSpec:
    """A target table: its columns (in order) and primary key, as core's ``toRedshiftDdl`` sees them."""

    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()

    @staticmethod
    def from_json(document: dict) -> "TableSpec":
        return TableSpec(
            tuple(Column(c["name"], c["type"], bool(c["notNull"])) for c in document["columns"]),
            tuple(document.get("primaryKey", [])),
        )


@dataclass(frozen=True)
class Copy:
    """One COPY: from a manifest's URL (``manifest`` holds its body) or from one file's URL."""

    url: str
    manifest: str | None = None


@dataclass(frozen=True)
class Group:
    """The COPYs of one tuple of partition values (empty tuple: an unpartitioned source)."""

    values: tuple[str | None, ...]
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class LoadPlan:
    schema: str | None
    table: str
    spec: TableSpec
    mode: str  # append | replace | merge
    kind: str  # parquet | json | json.gz
    groups: tuple[Group, ...]
    partition_columns: tuple[str, ...] = ()
    keys: tuple[str, ...] | None = None
    merge_strategy: str = "merge"  # merge | delete-insert
    iam_role: str | None = None
    credentials: dict | None = None  # accessKeyId, secretAccessKey, sessionToken?
    region: str | None = None
    target_columns: tuple[str, ...] = ()  # what information_schema answered; empty: no table
    create_table: bool = True
    dist_style: str | None = None
    dist_key: str | None = None
    sort_key: tuple[str, ...] = ()
    sort_style: str | None = None
    list_columns: tuple[str, ...] = field(default=())


def quote_identifier(name: str) -> str:
    if name == "" or "\0" in name:
        raise ValueError("SQL identifiers must be non-empty and hold no NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    if "\0" in text:
        raise ValueError("SQL literals must hold no NUL character")
    return "'" + text.replace("'", "''") + "'"


def qualified_name(schema: str | None, name: str) -> str:
    return f"{quote_identifier(schema)}.{quote_identifier(name)}" if schema else quote_identifier(name)


def _list(columns, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{quote_identifier(c)}" for c in columns)


def _join_on(left: str, right: str, keys) -> str:
    return " AND ".join(f"{left}.{quote_identifier(k)} = {right}.{quote_identifier(k)}" for k in keys)


def target_columns_sql(schema: str | None, table: str) -> Statement:
    return Statement(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position",
        (schema, table),
    )


def redshift_ddl(plan: LoadPlan) -> str:
    """core's ``toRedshiftDdl`` (``CREATE TABLE IF NOT EXISTS``, NOT NULL, PRIMARY KEY, dist and sort keys)."""
    lines = [f"  {quote_identifier(c.name)} {c.type}{' NOT NULL' if c.not_null else ''}" for c in plan.spec.columns]
    if plan.spec.primary_key:
        lines.append(f"  PRIMARY KEY ({_list(plan.spec.primary_key)})")
    ddl = f"CREATE TABLE IF NOT EXISTS {qualified_name(plan.schema, plan.table)} (\n" + ",\n".join(lines) + "\n)"
    dist_style = plan.dist_style or ("KEY" if plan.dist_key else None)
    if dist_style:
        ddl += f"\nDISTSTYLE {dist_style}"
    if plan.dist_key:
        ddl += f"\nDISTKEY ({quote_identifier(plan.dist_key)})"
    if plan.sort_key:
        ddl += f"\n{plan.sort_style or 'COMPOUND'} SORTKEY ({_list(plan.sort_key)})"
    return ddl + ";"


def _authorization(plan: LoadPlan, shown: bool) -> str:
    if plan.credentials is None:
        return f"IAM_ROLE {quote_literal(plan.iam_role or '')}"
    c = plan.credentials
    if shown:
        token = f" SESSION_TOKEN '{REDACTED}'" if c.get("sessionToken") is not None else ""
        return f"ACCESS_KEY_ID '{REDACTED}' SECRET_ACCESS_KEY '{REDACTED}'{token}"
    token = f" SESSION_TOKEN {quote_literal(c['sessionToken'])}" if c.get("sessionToken") is not None else ""
    return f"ACCESS_KEY_ID {quote_literal(c['accessKeyId'])} SECRET_ACCESS_KEY {quote_literal(c['secretAccessKey'])}{token}"


def copy_sql(plan: LoadPlan, into: str, copy: Copy, shown: bool = False) -> str:
    if plan.kind == "parquet":
        # Parquet COPY accepts neither TIMEFORMAT nor REGION; lists load into SUPER as JSON.
        fmt = "FORMAT AS PARQUET" + (" SERIALIZETOJSON" if plan.list_columns else "")
    else:
        fmt = "FORMAT AS JSON 'auto'" + (" GZIP" if plan.kind == "json.gz" else "") + " TIMEFORMAT 'auto'"
        if plan.region:
            fmt += f" REGION {quote_literal(plan.region)}"
    manifest = " MANIFEST" if copy.manifest is not None else ""
    return f"COPY {into} FROM {quote_literal(copy.url)} {_authorization(plan, shown)}{manifest} {fmt}"


def manifest_body(urls_and_sizes: list[tuple[str, int]]) -> str:
    """A COPY manifest as the TypeScript loader writes it (compact JSON, files in the given order)."""
    entries = [{"url": url, "mandatory": True, "meta": {"content_length": size}} for url, size in urls_and_sizes]
    return json.dumps({"entries": entries}, separators=(",", ":"))


def load_statements(plan: LoadPlan, shown: bool = False) -> list[Statement]:
    """Every statement of the load, in order, from ``BEGIN`` to ``COMMIT``.

    The loader reads answers back between statements (the target's columns, counts, null and
    duplicate keys); this list is the path of a load that succeeds, with the target's columns as
    ``plan.target_columns`` says. ``shown`` redacts credentials.
    """
    if plan.mode not in ("append", "replace", "merge"):
        raise ValueError(f"mode must be append, replace or merge, got {plan.mode!r}")
    if (plan.iam_role is None) == (plan.credentials is None):
        raise ValueError("give either an IAM role or credentials")
    columns = [c.name for c in plan.spec.columns]
    keys = list(plan.keys if plan.keys is not None else plan.spec.primary_key)
    if plan.mode == "merge":
        if not keys:
            raise ValueError(f"merge into {plan.table} needs keys")
        unknown = [k for k in keys if k not in columns]
        if unknown:
            raise ValueError(f"merge keys {', '.join(unknown)} are not columns")
    label = qualified_name(plan.schema, plan.table)
    stage = quote_identifier(STAGE_TABLE)
    files = quote_identifier(FILES_TABLE)
    partition = set(plan.partition_columns)
    file_columns = [c for c in columns if c not in partition]
    out = [Statement("BEGIN"), target_columns_sql(plan.schema, plan.table)]
    existing = list(plan.target_columns)
    if not existing:
        if not plan.create_table:
            raise ValueError(f"table {label} does not exist and create_table is false")
        if plan.schema:
            out.append(Statement(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(plan.schema)}"))
        out.append(Statement(redshift_ddl(plan)))
        existing = columns
    else:
        missing = [c for c in columns if c not in set(existing)]
        if missing:
            raise ValueError(f"table {label} exists but lacks the source columns {', '.join(missing)}")
    out.append(Statement(f"CREATE TEMP TABLE {stage} (LIKE {label})"))
    direct = not plan.partition_columns and existing == file_columns
    if plan.groups:
        if direct:
            for group in plan.groups:
                out += [Statement(copy_sql(plan, stage, c, shown)) for c in group.copies]
        else:
            out.append(
                Statement(f"CREATE TEMP TABLE {files} AS SELECT {_list(file_columns)} FROM {label} WHERE 1 = 0")
            )
            types = {c.name: c.type for c in plan.spec.columns}
            for group in plan.groups:
                out += [Statement(copy_sql(plan, files, c, shown)) for c in group.copies]
                into = _list([*file_columns, *plan.partition_columns])
                casts = [f"CAST(${i + 1} AS {types[c]})" for i, c in enumerate(plan.partition_columns)]
                select = ", ".join([*(quote_identifier(c) for c in file_columns), *casts])
                out.append(Statement(f"INSERT INTO {stage} ({into}) SELECT {select} FROM {files}", tuple(group.values)))
                # DELETE, not TRUNCATE: TRUNCATE would commit the transaction in Redshift.
                out.append(Statement(f"DELETE FROM {files}"))
            out.append(Statement(f"DROP TABLE {files}"))
    out.append(Statement(f"SELECT count(*) AS n FROM {stage}"))
    insert = Statement(f"INSERT INTO {label} ({_list(columns)}) SELECT {_list(columns)} FROM {stage}")
    if plan.mode == "append":
        out.append(insert)
    elif plan.mode == "replace":
        out += [Statement(f"DELETE FROM {label}"), insert]
    else:
        nulls = " OR ".join(f"{quote_identifier(k)} IS NULL" for k in keys)
        shown_keys = ", ".join(f"CAST({quote_identifier(k)} AS VARCHAR) AS key_{i}" for i, k in enumerate(keys))
        out += [
            Statement(f"SELECT count(*) AS n FROM {stage} WHERE {nulls}"),
            Statement(
                f"SELECT {shown_keys}, count(*) AS n FROM {stage} GROUP BY {_list(keys)} HAVING count(*) > 1 ORDER BY {_list(keys)} LIMIT {KEYS_SHOWN}"
            ),
            Statement(
                f"SELECT (SELECT count(*) FROM {label} t JOIN {stage} s ON {_join_on('t', 's', keys)}) AS updated, (SELECT count(*) FROM {stage} s JOIN (SELECT DISTINCT {_list(keys)} FROM {label}) t ON {_join_on('t', 's', keys)}) AS matched"
            ),
        ]
        others = [c for c in columns if c not in keys] or keys
        if plan.merge_strategy == "merge":
            update = ", ".join(f"{quote_identifier(c)} = s.{quote_identifier(c)}" for c in others)
            out.append(
                Statement(
                    f"MERGE INTO {label} USING {stage} AS s ON {_join_on(label, 's', keys)} WHEN MATCHED THEN UPDATE SET {update} WHEN NOT MATCHED THEN INSERT ({_list(columns)}) VALUES ({_list(columns, 's.')})"
                )
            )
        elif plan.merge_strategy == "delete-insert":
            out += [Statement(f"DELETE FROM {label} USING {stage} AS s WHERE {_join_on(label, 's', keys)}"), insert]
        else:
            raise ValueError(f"merge strategy must be merge or delete-insert, got {plan.merge_strategy!r}")
    out += [Statement(f"DROP TABLE {stage}"), Statement("COMMIT")]
    return out


def transcript(statements: list[Statement]) -> str:
    """The statements as the warehouse package's golden files hold them: one per line, ``;``-ended,
    bound values on a ``-- values:`` line after (JSON, as ``JSON.stringify`` writes them)."""
    lines = []
    for s in statements:
        text = s.text[:-1] if s.text.endswith(";") else s.text
        lines.append(f"{text};")
        if s.values:
            lines.append(f"-- values: {json.dumps(list(s.values), separators=(',', ':'), ensure_ascii=False)}")
    return "\n".join(lines) + "\n"

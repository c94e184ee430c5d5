"""Parse SQL with sqlglot (a parser tributary did not write) and describe what it found.

Reads a JSON list of requests on stdin: {"id", "dialect", "sql"} to parse, or {"id", "dialect",
"type"} to normalise a column type. Writes a JSON list of answers, one per request, in order.
A statement is described by its kind and the names and literals a DDL check compares.
"""

import json
import sys

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel


def literal(node):
    return node.this if isinstance(node, exp.Literal) else (node.name if node is not None else None)


def column(col, dialect):
    comment = None
    for constraint in col.args.get("constraints") or []:
        if isinstance(constraint.args.get("kind"), exp.CommentColumnConstraint):
            comment = literal(constraint.args["kind"].this)
    kind = col.args.get("kind")
    return {"name": col.this.this, "quoted": bool(col.this.args.get("quoted")), "type": kind.sql(dialect) if kind else None, "comment": comment}


def describe_create(stmt, dialect):
    schema = stmt.this
    table = schema.this if isinstance(schema, exp.Schema) else schema
    out = {
        "kind": "Create",
        "what": stmt.args.get("kind"),
        "exists": bool(stmt.args.get("exists")),
        "db": table.args["db"].this if table.args.get("db") is not None else None,
        "table": table.this.this,
        "columns": [column(c, dialect) for c in (schema.expressions if isinstance(schema, exp.Schema) else []) if isinstance(c, exp.ColumnDef)],
        "primaryKey": [i.this for pk in (schema.expressions if isinstance(schema, exp.Schema) else []) if isinstance(pk, exp.PrimaryKey) for i in pk.expressions],
        "properties": [],
    }
    for prop in (stmt.args.get("properties").expressions if stmt.args.get("properties") else []):
        if isinstance(prop, exp.DistStyleProperty):
            out["properties"].append(["diststyle", prop.this.name])
        elif isinstance(prop, exp.DistKeyProperty):
            out["properties"].append(["distkey", prop.this.this])
        elif isinstance(prop, exp.SortKeyProperty):
            keys = prop.this if isinstance(prop.this, list) else [prop.this]
            out["properties"].append(["sortkey", [k.this for k in keys], bool(prop.args.get("compound"))])
        elif isinstance(prop, exp.ExternalProperty):
            out["properties"].append(["external"])
        elif isinstance(prop, exp.PartitionedByProperty):
            out["properties"].append(["partitionedBy", [column(c, dialect) for c in prop.this.expressions]])
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            out["properties"].append(["serde", literal(prop.this)])
            if prop.args.get("serde_properties"):
                out["properties"].append(["serdeProperties", [[literal(p.this), literal(p.args.get("value"))] for p in prop.args["serde_properties"].expressions]])
        elif isinstance(prop, exp.FileFormatProperty):
            out["properties"].append(["fileFormat", [literal(e) for e in prop.expressions]])
        elif isinstance(prop, exp.LocationProperty):
            out["properties"].append(["location", literal(prop.this)])
        elif isinstance(prop, exp.Property):
            out["properties"].append(["property", literal(prop.this), literal(prop.args.get("value"))])
        else:
            out["properties"].append(["other", type(prop).__name__])
    return out


def answer(request):
    dialect = request["dialect"]
    if "type" in request:
        try:
            return {"type": exp.DataType.build(request["type"], dialect=dialect).sql(dialect)}
        except Exception as error:  # noqa: BLE001 - any failure is an answer
            return {"error": str(error).splitlines()[0]}
    try:
        statements = [s for s in sqlglot.parse(request["sql"], read=dialect, error_level=ErrorLevel.RAISE) if s is not None]
    except Exception as error:  # noqa: BLE001
        return {"error": str(error).splitlines()[0]}
    described = []
    for stmt in statements:
        try:
            described.append(describe_create(stmt, dialect) if isinstance(stmt, exp.Create) else {"kind": type(stmt).__name__})
        except Exception as error:  # noqa: BLE001 - a shape we do not describe is an answer too
            described.append({"kind": type(stmt).__name__, "error": repr(error)})
    return {"statements": described}


def main():
    requests = json.load(sys.stdin)
    json.dump([answer(r) for r in requests], sys.stdout)


if __name__ == "__main__":
    main()

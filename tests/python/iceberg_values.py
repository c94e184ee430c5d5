"""Values read by pyiceberg in a form a TypeScript test compares exactly.

Shared by the Python readers of the lake's and the crypto transforms' Iceberg tables (imported
through `sys.path`, as these scripts run with spark/.venv/bin/python from any folder): integers
(int, long) and timestamps (epoch microseconds) as decimal text, decimals as plain text at their
scale, dates as ISO text, lists element by element.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any, Callable, Optional

import pyarrow as pa
import pyarrow.compute as pc


def norm(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [norm(v) for v in value]
    raise TypeError(f"no normal form for {type(value).__name__}: {value!r}")


def rows_of(table: pa.Table, key: Optional[Callable[[dict[str, Any]], Any]] = None) -> list[dict[str, Any]]:
    """The rows, normalised; timestamps cast to their int64 microseconds first (exact, any year).
    Sorted by `key` when given, else in the table's order."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = pc.cast(column, pa.int64())
        columns[name] = column
    rows = [{k: norm(v) for k, v in row.items()} for row in pa.table(columns).to_pylist()]
    return rows if key is None else sorted(rows, key=key)

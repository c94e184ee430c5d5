"""The sensor record's validation as ``@tributary/core`` does it (``sensorRecordSchema.validate``),
line by line in plain Python, with the same issue messages.

The Spark job accepts the common, well-formed lines with SQL expressions alone; every other line
comes here, so that the error table's ``code`` and ``reason`` match the TypeScript transform's.
One known difference: the text after ``not JSON:`` is Python's parser message, not V8's.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal

# field name -> (kind, max UTF-8 bytes), in the schema's column order
FIELDS = [
    ("id", "string", 256),
    ("sensorId", "string", 128),
    ("type", "string", 64),
    ("value", "double", None),
    ("unit", "string", 32),
    ("timestamp", "timestamp", None),
]
KNOWN = {name for name, _, _ in FIELDS}

# core's ISO_TIMESTAMP: date, time, optional fraction of any length, optional zone.
ISO_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
# What JavaScript's String.prototype.trim removes.
JS_WHITESPACE = "\t\n\x0b\x0c\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
MAX_TIME_MS = 8.64e15


def js_trim(text: str) -> str:
    return text.strip(JS_WHITESPACE)


def js_number(value: float) -> str:
    """``String(number)`` in JavaScript: shortest round-trip digits, exponent from 1e21 and below 1e-6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits)
    n = len(digits) + digits_tuple.exponent  # position of the decimal point from the first digit
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = f"0.{'0' * -n}{digits}"
    else:
        exponent = n - 1
        mantissa = digits[0] if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if exponent > 0 else '-'}{abs(exponent)}"
    return sign + text


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def describe(value: object) -> str:
    """core's ``describeValue`` for a value ``JSON.parse`` can give."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"number {js_number(float(value))}"
    if isinstance(value, str):
        excerpt = value
        if _utf16_length(value) > 40:
            units = value.encode("utf-16-le", "surrogatepass")[:80]
            excerpt = units.decode("utf-16-le", "surrogatepass") + "\u2026"
        return f"string {json.dumps(excerpt, ensure_ascii=False)}"
    if isinstance(value, list):
        return "array"
    return "object"


def days_in_month(year: int, month: int) -> int:
    """Days of a month of the proleptic Gregorian calendar (any year, year 0 too, as JavaScript's Date)."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, as JavaScript's Date)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_iso_timestamp(text: str) -> int | None:
    """core's ``parseIsoTimestamp``: UTC milliseconds, or None when the text is not a valid ISO-8601 time."""
    m = ISO_TIMESTAMP.match(js_trim(text))
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    year, month, day = int(y), int(mo), int(d)
    hour, minute, second = int(h or 0), int(mi or 0), int(s or 0)
    if month < 1 or month > 12 or day < 1 or day > days_in_month(year, month):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    millis = int(frac[:3].ljust(3, "0")) if frac else 0
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone.startswith("-") else 1
        digits = zone[1:].replace(":", "")
        oh = int(digits[:2])
        om = int(digits[2:]) if len(digits) > 2 else 0
        if oh > 23 or om > 59:
            return None
        offset = sign * (oh * 60 + om)
    days = _days_from_civil(year, month, day)
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis - offset * 60_000


def invalid_utf8(data: bytes, first_line: bool = False) -> dict | None:
    """core's strict decoding of one raw line's bytes (``ndjsonLines``): None when they are UTF-8,
    otherwise the ``INVALID_UTF8`` error, its reason giving where (0-based, in the line's bytes) the
    first ill-formed sequence starts, and ``raw`` the line with each ill-formed sequence as U+FFFD
    (Python's ``replace`` and the WHATWG decoder replace the same sequences). A byte order mark
    that starts an object is not part of its first line, as in core."""
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as err:
        offset = err.start
    text = data.decode("utf-8", "replace")
    if first_line and text.startswith("\ufeff"):
        text = text[1:]
    return {"ok": False, "code": "INVALID_UTF8", "reason": f"invalid UTF-8 at byte offset {offset}", "raw": text}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def validate_line(line: str) -> dict:
    """Validate one raw line. ``{"ok": True, ...record, "ts_ms"}`` or ``{"ok": False, "code", "reason"}``."""
    try:
        value = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:
        return {"ok": False, "code": "INVALID_JSON", "reason": f"not JSON: {err}"}
    if not isinstance(value, dict):
        return {"ok": False, "code": "INVALID_JSON", "reason": f"not a JSON object: {describe(value)}"}
    issues: list[str] = []
    out: dict = {}
    for name, kind, max_bytes in FIELDS:
        v = value.get(name)
        if v is None:
            issues.append(f"{name}: required")
            continue
        if kind == "string":
            if not isinstance(v, str):
                issues.append(f"{name}: expected string, got {describe(v)}")
            elif len(v.encode("utf-8", "surrogatepass")) > max_bytes:
                issues.append(f"{name}: expected string of at most {max_bytes} UTF-8 bytes, got {describe(v)}")
            else:
                out[name] = v
        elif kind == "double":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                issues.append(f"{name}: expected double, got {describe(v)}")
            elif not math.isfinite(float(v)):
                issues.append(f"{name}: expected finite double, got {describe(v)}")
            else:
                out[name] = float(v)
        else:
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                issues.append(f"{name}: expected timestamp (Date, epoch ms or ISO-8601), got {describe(v)}")
                continue
            if isinstance(v, str):
                time = parse_iso_timestamp(v)
                if time is None:
                    issues.append(f"{name}: expected ISO-8601 timestamp, got {describe(v)}")
                    continue
            else:
                number = float(v)
                time = math.floor(number) if math.isfinite(number) else None
            if time is None or abs(time) > MAX_TIME_MS:
                issues.append(f"{name}: expected valid timestamp, got {describe(v)}")
            else:
                out["ts_ms"] = int(time)
    for key in _js_key_order(value):
        if key not in KNOWN:
            issues.append(f"{key}: is not a field of the schema")
    if issues:
        return {"ok": False, "code": "INVALID_RECORD", "reason": "; ".join(issues)}
    return {"ok": True, **out}


def _js_key_order(obj: dict) -> list[str]:
    """Keys in JavaScript's own-property order: array-index keys ascending first, then insertion order."""
    index_keys = [k for k in obj if re.fullmatch(r"0|[1-9]\d*", k) and int(k) < 2**32 - 1]
    index_keys.sort(key=int)
    return index_keys + [k for k in obj if k not in set(index_keys)]

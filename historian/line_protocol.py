"""InfluxDB line protocol in this platform's schema: encode points, parse request bodies.

The escaping follows what InfluxDB 1.x's parser really does (checked against influxd
1.6.7), because that server is the strictest reader of what we write:

- tag keys, tag values and field keys escape comma, equals and space with a backslash;
  a backslash before any other character is a literal backslash, so it is not escaped;
- a tag value cannot end in a backslash (the parser would read ``\\,`` or ``\\ `` as an
  escaped delimiter) and cannot hold a newline: both are refused with ValueError;
- string field values escape double quote and backslash, and may hold newlines.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from historian.model import MEASUREMENT, HistorianError, Point, SeriesKey, ValueKind

_TAG_NAMES = ("site", "line", "asset", "tag")
# Tag keys sorted bytewise, as InfluxDB stores them, so the server need not sort.
_SORTED_TAG_NAMES = tuple(sorted(_TAG_NAMES))
_KIND_BY_FIELD = {kind.value: kind for kind in ValueKind}

_TAG_ESCAPE = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"'})
_KEY_UNESCAPE = re.compile(r"\\([,= ])")
_STRING_UNESCAPE = re.compile(r'\\([\\"])')

_FLOAT_LITERAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT_LITERAL = re.compile(r"[+-]?\d+i")
_TIMESTAMP_LITERAL = re.compile(r"-?\d+")
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class LineProtocolError(HistorianError, ValueError):
    """A body that is not line protocol in this platform's schema; names the line."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


def _escape_tag_value(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{name} {value!r}: InfluxDB cannot store a line break in a tag value")
    if value.endswith("\\"):
        raise ValueError(
            f"{name} {value!r}: InfluxDB 1.x cannot store a tag value ending in a backslash"
        )
    return value.translate(_TAG_ESCAPE)


def encode_field(value: object) -> str:
    """``kind=value`` for one value, e.g. ``float=1.5``, ``int=3i``, ``string="on"``."""
    if isinstance(value, bool):
        return "bool=true" if value else "bool=false"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer {value} does not fit InfluxDB's 64-bit integers")
        return f"int={value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"line protocol cannot carry the float {value!r}")
        # repr is the shortest text that reads back as the same double.
        return f"float={value!r}"
    if isinstance(value, str):
        return f'string="{value.translate(_STRING_ESCAPE)}"'
    raise TypeError(f"unsupported value type {type(value).__name__}: {value!r}")


def encode_point(point: Point) -> str:
    """One line of line protocol, tags in sorted key order, timestamp in ns."""
    key = point.key
    return (
        f"{MEASUREMENT}"
        f",asset={_escape_tag_value('asset', key.asset)}"
        f",line={_escape_tag_value('line', key.line)}"
        f",site={_escape_tag_value('site', key.site)}"
        f",tag={_escape_tag_value('tag', key.tag)}"
        f" {encode_field(point.value)} {int(point.timestamp_ns)}"
    )


def encode_points(points: Iterable[Point]) -> str:
    """Newline-joined lines, no trailing newline."""
    return "\n".join(map(encode_point, points))


# --- parsing -----------------------------------------------------------------------------


def parse_line_protocol(body: str, now_ns: int | None = None) -> list[Point]:
    """Points from a body in this platform's schema, or LineProtocolError naming the line.

    Blank lines and ``#`` comments are skipped. A point without a timestamp gets
    ``now_ns`` (default: the current time, one value for the whole body, as InfluxDB does).
    """
    reader = _PointReader(body, now_ns)
    points: list[Point] = []
    pos, line_number, size = 0, 1, len(body)
    while pos < size:
        eol = body.find("\n", pos)
        if eol == -1:
            eol = size
        point, end = reader.point_at(pos, eol, line_number)
        if point is not None:
            points.append(point)
        line_number += body.count("\n", pos, end) + 1
        pos = end + 1
    return points


class _PointReader:
    """The full parser for one body: every escape, comments, multi-line string values."""

    def __init__(self, body: str, now_ns: int | None) -> None:
        self.body = body
        self.now = now_ns
        # Series repeat in every batch; each distinct key text is parsed once per body.
        self.keys: dict[str, SeriesKey] = {}

    def key(self, key_text: str, line_number: int) -> SeriesKey:
        key = self.keys.get(key_text)
        if key is None:
            key = self.keys[key_text] = _parse_key(key_text, line_number)
        return key

    def point_at(self, pos: int, eol: int, line_number: int) -> tuple[Point | None, int]:
        """The point starting at ``pos`` (None for a blank or comment line) and the index
        of the newline (or end of body) that ends it; ``eol`` ends its first line."""
        body = self.body
        raw = body[pos:eol]
        text = raw.strip()
        if not text or text.startswith("#"):
            return None, eol
        if "\\" not in raw and '"' not in raw:
            key_text, field_text, stamp = _split_plain(text, line_number)
            end = eol
        else:
            key_text, field_text, stamp, end = _split_escaped(body, pos, line_number)
        if stamp is None:
            if self.now is None:
                self.now = time.time_ns()
            timestamp = self.now
        else:
            timestamp = _parse_timestamp(stamp, line_number)
        key = self.key(key_text, line_number)
        value = _parse_field(field_text, line_number)
        return Point(key, timestamp, value), end


def _split_plain(text: str, line_number: int) -> tuple[str, str, str | None]:
    """The common case with nothing escaped: three space-separated parts.

    The key ends at the first space, as in InfluxDB (a tab is part of a tag value there);
    fields and timestamp may be separated by any run of whitespace.
    """
    key_text, _, rest = text.partition(" ")
    parts = [key_text, *rest.split()]
    if len(parts) == 1:
        raise LineProtocolError(line_number, "missing fields after the tags")
    if len(parts) > 3:
        raise LineProtocolError(line_number, f"unexpected text after the timestamp: {parts[3]!r}")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _split_escaped(body: str, pos: int, line_number: int) -> tuple[str, str, str | None, int]:
    """Key, fields and timestamp of the point at ``pos``; its string fields may span lines.

    Returns the index of the newline (or end of body) that ends the point.
    """
    size = len(body)
    while body[pos] in " \t":
        pos += 1
    # Key: up to the first space or newline not preceded by a backslash (InfluxDB's rule).
    i = pos
    while i < size:
        c = body[i]
        if c == "\n" or (c == " " and body[i - 1] != "\\"):
            break
        i += 1
    key_text = body[pos:i].rstrip("\r")
    while i < size and body[i] in " \t":
        i += 1
    if i >= size or body[i] in "\r\n":
        raise LineProtocolError(line_number, "missing fields after the tags")
    # Fields: quoted strings may hold spaces, commas and newlines.
    start = i
    quoted = False
    while i < size:
        c = body[i]
        if quoted:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in " \n" and body[i - 1] != "\\":
            break
        i += 1
    if quoted:
        raise LineProtocolError(line_number, "string field value has no closing double quote")
    field_text = body[start:i].rstrip("\r")
    eol = body.find("\n", i)
    if eol == -1:
        eol = size
    rest = body[i:eol].split()
    if len(rest) > 1:
        raise LineProtocolError(line_number, f"unexpected text after the timestamp: {rest[1]!r}")
    return key_text, field_text, rest[0] if rest else None, eol


def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not preceded by a backslash, as InfluxDB does."""
    if "\\" not in text:
        return text.split(sep)
    parts, start = [], 0
    for i, c in enumerate(text):
        if c == sep and (i == 0 or text[i - 1] != "\\"):
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _unescape_key(text: str) -> str:
    return _KEY_UNESCAPE.sub(r"\1", text) if "\\" in text else text


def _parse_key(text: str, line_number: int) -> SeriesKey:
    measurement, *tag_texts = _split_unescaped(text, ",")
    measurement = _unescape_key(measurement)
    if measurement != MEASUREMENT:
        raise LineProtocolError(
            line_number, f"measurement must be {MEASUREMENT!r}, got {measurement!r}"
        )
    tags: dict[str, str] = {}
    for tag_text in tag_texts:
        pair = _split_unescaped(tag_text, "=")
        if len(pair) != 2:
            raise LineProtocolError(line_number, f"tag {tag_text!r} is not key=value")
        name, value = _unescape_key(pair[0]), _unescape_key(pair[1])
        if name not in _TAG_NAMES:
            raise LineProtocolError(
                line_number,
                f"unexpected tag {name!r}; this schema's tags are site, line, asset and tag",
            )
        if name in tags:
            raise LineProtocolError(line_number, f"tag {name!r} appears twice")
        if not value:
            raise LineProtocolError(line_number, f"tag {name!r} has an empty value")
        tags[name] = value
    for name in _TAG_NAMES:
        if name not in tags:
            raise LineProtocolError(line_number, f"missing tag {name!r}")
    return SeriesKey(tags["site"], tags["line"], tags["asset"], tags["tag"])


def _parse_field(text: str, line_number: int) -> float | int | bool | str:
    eq = text.find("=")
    while eq > 0 and text[eq - 1] == "\\":
        eq = text.find("=", eq + 1)
    if eq <= 0:
        raise LineProtocolError(line_number, f"field {text!r} is not key=value")
    name, literal = _unescape_key(text[:eq]), text[eq + 1 :]
    kind = _KIND_BY_FIELD.get(name)
    if kind is None:
        raise LineProtocolError(
            line_number, f"field {name!r} is not one of float, int, bool, string"
        )
    if kind is ValueKind.STRING:
        close = _closing_quote(literal)
        if not literal.startswith('"') or close is None:
            raise LineProtocolError(
                line_number, f"field 'string' needs a quoted value, got {literal!r}"
            )
        if close != len(literal) - 1:
            raise LineProtocolError(line_number, "only one field is allowed per line")
        inner = literal[1:-1]
        return _STRING_UNESCAPE.sub(r"\1", inner) if "\\" in inner else inner
    if "," in literal:
        raise LineProtocolError(line_number, "only one field is allowed per line")
    if kind is ValueKind.FLOAT:
        if not _FLOAT_LITERAL.fullmatch(literal):
            raise LineProtocolError(line_number, f"field 'float' needs a number, got {literal!r}")
        return float(literal)
    if kind is ValueKind.INT:
        if not _INT_LITERAL.fullmatch(literal):
            raise LineProtocolError(
                line_number, f"field 'int' needs an integer like 3i, got {literal!r}"
            )
        value = int(literal[:-1])
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise LineProtocolError(line_number, f"integer {literal!r} does not fit 64 bits")
        return value
    if literal in _TRUE:
        return True
    if literal in _FALSE:
        return False
    raise LineProtocolError(line_number, f"field 'bool' needs true or false, got {literal!r}")


def _closing_quote(literal: str) -> int | None:
    """Index of the quote that ends a string value starting at 0, skipping escaped pairs."""
    i = 1
    while i < len(literal):
        if literal[i] == "\\":
            i += 2
            continue
        if literal[i] == '"':
            return i
        i += 1
    return None


def _parse_timestamp(text: str, line_number: int) -> int:
    if not _TIMESTAMP_LITERAL.fullmatch(text):
        raise LineProtocolError(line_number, f"timestamp {text!r} is not an integer of ns")
    value = int(text)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise LineProtocolError(line_number, f"timestamp {text!r} does not fit 64 bits")
    return value


# --- validation for forwarding (the ingest fast path) ------------------------------------

# One line in the form our encoder writes and InfluxDB reads exactly as we do: a key
# without spaces, one field of a kind whose literal both parsers agree on, a timestamp.
# Numbers are bounded so a match can never be out of range: ints up to 18 digits, 19-digit
# timestamps up to 8999999999999999999 (year 2255), floats with at most 201 integer digits,
# 30 decimals and a two-digit exponent (never infinite, never below 1e-129, so Python and
# Go round them to the same double). Anything else (escapes, comments, other spellings,
# CRLF, a missing timestamp) takes the full parser.
_FAST_FIELD = (
    # Possessive and atomic parts: nothing here needs backtracking, and sre runs faster.
    r" (?:float=-?(?:0|[1-9][0-9]{0,200}+)(?:\.[0-9]{1,30}+)?+(?:[eE][+-]?[0-9]{1,2}+)?+"
    r"|int=-?[0-9]{1,18}i"
    r"|bool=(?:true|false)"
    r'|string="[^"\\\n]*")'
)
_FAST_TIME = r"-?[0-8]?[0-9]{1,18}"
# One line of a str, its key with no backslash or carriage return.
_FAST_LINE = re.compile(rf"(telemetry,[^ \n\r\\]+){_FAST_FIELD} ({_FAST_TIME})", re.ASCII)
# Every such line of a bytes body that holds no backslash and no carriage return (checked
# first, with a fast ``in``), searched in the body with a newline put in front: the
# literal "\ntelemetry," start lets the regex engine jump from candidate to candidate and
# anchors each match at a line's start, and the lookahead ends it at the line's end.
# ``[^ ]`` is cheaper than a class of several bytes; a match that crossed a newline would
# cover two lines with one match, which the count of matches against lines catches. The
# timestamp is captured too: the InfluxDB store marks the hours a body touches, and taking
# them here spares it a second pass over the body.
_FAST_LINES = re.compile(
    rb"\n(telemetry,[^ ]++)" + f"{_FAST_FIELD} ({_FAST_TIME})".encode() + rb"(?![^\n])"
)
# InfluxDB refuses timestamps at the very ends of int64 (models.MinNanoTime, MaxNanoTime).
_INFLUX_MIN_NS, _INFLUX_MAX_NS = _INT64_MIN + 2, _INT64_MAX - 1


@dataclass(frozen=True, slots=True)
class ValidatedBody:
    """A body checked point by point, ready to be stored without parsing it again.

    ``body`` is the request's own bytes when every line was already in the fast form,
    else the same points with the other lines rewritten as ``encode_point`` writes them.
    InfluxDB and ``parse_line_protocol`` read it as the same points, each with a timestamp.
    """

    body: bytes
    point_count: int
    series_keys: frozenset[SeriesKey]
    # The distinct timestamps of its points as written in ``body`` (ASCII, sign included),
    # gathered by the check itself: a store marking the hours it was written in reads them
    # here instead of scanning the body again.
    timestamps: frozenset[bytes]
    # The first line of each series, for error messages; on the fast path it is found
    # only when asked, from the prefixes in line order.
    _first_lines: dict[SeriesKey, int] | None = field(default=None, repr=False)
    _prefixes: list[bytes] | None = field(default=None, repr=False)
    _prefix_keys: dict[bytes, SeriesKey] | None = field(default=None, repr=False)

    def first_line(self, key: SeriesKey) -> int:
        """The line number of the first point of series ``key`` in the original body."""
        if self._first_lines is None:
            # One pass over the prefixes, on the first question only (an error path).
            assert self._prefixes is not None and self._prefix_keys is not None
            first: dict[SeriesKey, int] = {}
            for number, prefix in enumerate(self._prefixes, start=1):  # match i: line i + 1
                first.setdefault(self._prefix_keys[prefix], number)
            object.__setattr__(self, "_first_lines", first)
        assert self._first_lines is not None
        return self._first_lines[key]


def validate_line_protocol(body: bytes, now_ns: int | None = None) -> ValidatedBody:
    """Check a body in this platform's schema, building no points where it can.

    Raises LineProtocolError naming the first bad line (a body that is not UTF-8 names
    the byte too). When every line is in the form our encoder writes, the check is one
    regular expression over the body plus one key parse per distinct series prefix, and
    ``body`` comes back as it came. Otherwise lines are checked one by one: those in that
    form by the same expression, with their prefix's parse cached, and the rest by the full
    parser, rewritten canonically (a missing timestamp becomes ``now_ns`` or now).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_number = body.count(b"\n", 0, exc.start) + 1
        raise LineProtocolError(line_number, f"body is not UTF-8 at byte {exc.start}") from None
    if b"\\" not in body and b"\r" not in body:
        matches = _FAST_LINES.findall(b"\n" + body)
        content = body.rstrip(b"\n")  # trailing newlines end the last line; no lines
        if len(matches) == (content.count(b"\n") + 1 if content else 0):
            # Comprehensions, not zip(*matches): that makes an iterator per line, and
            # their collection by the GC costs more than the whole regex in a big process.
            prefixes = [prefix for prefix, _ in matches]
            stamps = {stamp for _, stamp in matches}
            prefix_keys: dict[bytes, SeriesKey] = {}
            bad: dict[bytes, LineProtocolError] = {}
            for prefix in set(prefixes):
                try:
                    prefix_keys[prefix] = _key_of_prefix(prefix)
                except LineProtocolError as exc:
                    bad[prefix] = exc
            if bad:  # name the earliest bad line
                number, prefix = next((i, p) for i, p in enumerate(prefixes, 1) if p in bad)
                raise LineProtocolError(number, bad[prefix].message)
            return ValidatedBody(
                body,
                len(prefixes),
                frozenset(prefix_keys.values()),
                frozenset(stamps),
                _prefixes=prefixes,
                _prefix_keys=prefix_keys,
            )
    return _validate_line_by_line(text, now_ns)


@functools.lru_cache(maxsize=65536)
def _key_of_prefix(prefix: bytes) -> SeriesKey:
    """The key a fast-path prefix names. Agents send the same series batch after batch, so
    the parse is kept across requests (a bad prefix raises, and is not kept)."""
    return _parse_key(prefix.decode("utf-8"), 0)


def _validate_line_by_line(text: str, now_ns: int | None) -> ValidatedBody:
    reader = _PointReader(text, now_ns)
    out: list[str] = []
    first_lines: dict[SeriesKey, int] = {}
    stamps: set[str] = set()
    pos, line_number, size = 0, 1, len(text)
    while pos < size:
        eol = text.find("\n", pos)
        if eol == -1:
            eol = size
        raw = text[pos:eol]
        fast = _FAST_LINE.fullmatch(raw)
        if fast:
            key = reader.key(fast.group(1), line_number)
            stamps.add(fast.group(2))
            out.append(raw)
            end = eol
        else:
            point, end = reader.point_at(pos, eol, line_number)
            if point is None:  # blank or comment
                pos, line_number = eol + 1, line_number + 1
                continue
            key = point.key
            try:
                out.append(encode_for_influxdb(point))
            except ValueError as exc:
                raise LineProtocolError(line_number, str(exc)) from None
            stamps.add(str(point.timestamp_ns))  # as encode_for_influxdb wrote it
        if key not in first_lines:
            first_lines[key] = line_number
        line_number += text.count("\n", pos, end) + 1
        pos = end + 1
    return ValidatedBody(
        "\n".join(out).encode("utf-8"),
        len(out),
        frozenset(first_lines),
        frozenset(stamp.encode("ascii") for stamp in stamps),
        _first_lines=first_lines,
    )


def encode_for_influxdb(point: Point) -> str:
    """``encode_point``, refusing also what InfluxDB would refuse (ValueError says why)."""
    if not _INFLUX_MIN_NS <= point.timestamp_ns <= _INFLUX_MAX_NS:
        raise ValueError(f"timestamp {point.timestamp_ns} is outside InfluxDB's time range")
    return encode_point(point)

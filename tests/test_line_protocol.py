"""Line protocol encoding and parsing in this platform's schema, and InfluxQL quoting."""

from __future__ import annotations

import time

import pytest
from influxdb_client import Point as ClientPoint
from influxdb_client import WritePrecision

from historian.influxql import quote_ident, quote_literal, select_raw, series_condition
from historian.line_protocol import (
    LineProtocolError,
    encode_point,
    encode_points,
    parse_line_protocol,
)
from historian.model import Point, SeriesKey, ValueKind, kind_of

TS = 1764382800123456789
KEY = SeriesKey("ningbo-mold", "moulding-hall-1", "IMM-01", "melt_temp")

# Names a user might type, or an attacker might try; none may change a line or a query.
HOSTILE_NAMES = [
    'say "hi"',
    "a,b",
    "a b",
    "a=b",
    "x=1,y=2 z",
    "back\\slash",
    "\\leading",
    "two\\\\back",
    "slash\\,comma",
    "slash\\ space",
    "中文 标签",
    "SELECT",
    "DROP",
    '"; DROP DATABASE x',
    "'; DROP DATABASE x; --",
    "it's",
    "#not-a-comment",
    "tab\there",
]


def test_encodes_the_documented_example() -> None:
    point = Point(KEY, 1764382800123456789, 231.4)
    assert encode_point(point) == (
        "telemetry,asset=IMM-01,line=moulding-hall-1,site=ningbo-mold,tag=melt_temp "
        "float=231.4 1764382800123456789"
    )


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (1.5, "float=1.5"),
        (3.0, "float=3.0"),
        (0.1, "float=0.1"),
        (1e300, "float=1e+300"),
        (-2.5e-320, "float=-2.5e-320"),
        (3, "int=3i"),
        (-(2**63), "int=-9223372036854775808i"),
        (True, "bool=true"),
        (False, "bool=false"),
        ("running", 'string="running"'),
        ('say "hi" \\ ok', 'string="say \\"hi\\" \\\\ ok"'),
        ("two\nlines", 'string="two\nlines"'),
    ],
)
def test_encodes_each_kind(value: object, field: str) -> None:
    line = encode_point(Point(KEY, TS, value))  # type: ignore[arg-type]
    assert line.split(" ", 1)[1] == f"{field} {TS}"


def test_escapes_tag_values() -> None:
    key = SeriesKey("a b", "c,d", "e=f", 'g"h\\i')
    assert encode_point(Point(key, 1, 1)) == (
        'telemetry,asset=e\\=f,line=c\\,d,site=a\\ b,tag=g"h\\i int=1i 1'
    )


@pytest.mark.parametrize("bad", ["line\nbreak", "carriage\rreturn"])
def test_refuses_line_breaks_in_tag_values_naming_the_field(bad: str) -> None:
    with pytest.raises(ValueError, match="asset"):
        encode_point(Point(SeriesKey("s", "l", bad, "t"), 1, 1.0))


def test_refuses_a_trailing_backslash_in_a_tag_value() -> None:
    with pytest.raises(ValueError, match=r"tag .*backslash"):
        encode_point(Point(SeriesKey("s", "l", "a", "ends\\"), 1, 1.0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**63])
def test_refuses_values_line_protocol_cannot_carry(bad: float) -> None:
    with pytest.raises(ValueError):
        encode_point(Point(KEY, 1, bad))


def test_encode_points_joins_lines() -> None:
    points = [Point(KEY, 1, 1.0), Point(KEY, 2, 2.0)]
    assert encode_points(points).splitlines() == [encode_point(p) for p in points]
    assert encode_points([]) == ""


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("value", [1.25, -7, True, 'quote " and \\ and \n newline', "SELECT"])
def test_round_trips_hostile_names_and_values(name: str, value: object) -> None:
    key = SeriesKey(name, f"line {name}", f"{name}-asset", name)
    point = Point(key, TS, value)  # type: ignore[arg-type]
    assert parse_line_protocol(encode_point(point)) == [point]


def test_round_trips_floats_exactly() -> None:
    values = [0.1, 1 / 3, 2.0**-1074, 1.7976931348623157e308, -0.0, 1e16, 123456789.123456789]
    points = [Point(KEY, i, v) for i, v in enumerate(values)]
    parsed = parse_line_protocol(encode_points(points))
    assert [p.value for p in parsed] == values
    assert all(type(p.value) is float for p in parsed)
    assert str(parsed[4].value) == "-0.0"


def _client_line(key: SeriesKey, value: object) -> str:
    return (
        ClientPoint("telemetry")
        .tag("site", key.site)
        .tag("line", key.line)
        .tag("asset", key.asset)
        .tag("tag", key.tag)
        .field(kind_of(value).value, value)  # type: ignore[arg-type]
        .time(TS, WritePrecision.NS)
        .to_line_protocol()
    )


# Tabs are left out: influxdb-client writes a tab as the two characters "\t".
CROSS_CHECK_NAMES = [n for n in HOSTILE_NAMES if "\t" not in n]


@pytest.mark.parametrize("name", CROSS_CHECK_NAMES)
@pytest.mark.parametrize("value", [231.4, 1e-7, 42, False, 'he said "stop" \\ now'])
def test_matches_influxdb_client(name: str, value: object) -> None:
    key = SeriesKey(name, "hall 1", f"{name},x", f"t={name}")
    ours = encode_point(Point(key, TS, value))  # type: ignore[arg-type]
    assert ours == _client_line(key, value)


def test_matches_influxdb_client_for_whole_floats_up_to_its_trimmed_zero() -> None:
    # influxdb-client writes 3.0 as "3"; InfluxDB reads both as a float, we keep ".0".
    ours = encode_point(Point(KEY, TS, 3.0))
    assert ours.replace("float=3.0 ", "float=3 ") == _client_line(KEY, 3.0)


# --- parsing -----------------------------------------------------------------------------


def test_parses_each_kind_and_the_boolean_spellings() -> None:
    body = "\n".join(
        [
            "telemetry,asset=a,line=l,site=s,tag=f float=1.5 10",
            "telemetry,asset=a,line=l,site=s,tag=f2 float=2 11",
            "telemetry,asset=a,line=l,site=s,tag=i int=-3i 12",
            "telemetry,asset=a,line=l,site=s,tag=b bool=t 13",
            "telemetry,asset=a,line=l,site=s,tag=b bool=FALSE 14",
            'telemetry,asset=a,line=l,site=s,tag=s string="x y, z=1" 15',
        ]
    )
    values = [p.value for p in parse_line_protocol(body)]
    assert values == [1.5, 2.0, -3, True, False, "x y, z=1"]
    assert [type(v) for v in values] == [float, float, int, bool, bool, str]


def test_tag_order_does_not_matter() -> None:
    (point,) = parse_line_protocol("telemetry,tag=t,site=s,asset=a,line=l int=1i 5")
    assert point == Point(SeriesKey("s", "l", "a", "t"), 5, 1)


def test_skips_blank_lines_and_comments_and_counts_lines() -> None:
    body = (
        "# a comment\n"
        "\n"
        "   \n"
        "telemetry,asset=a,line=l,site=s,tag=t float=1 1\r\n"
        "  # indented comment\n"
        'telemetry,asset=a,line=l,site=s,tag=t string="two\nlines" 2\n'
        "telemetry,asset=a,line=l,site=s int=1i 3\n"
    )
    with pytest.raises(LineProtocolError) as caught:
        parse_line_protocol(body)
    # The string field spans lines 6-7, so the bad point is on line 8.
    assert str(caught.value) == "line 8: missing tag 'tag'"
    assert caught.value.line_number == 8


def test_missing_timestamp_means_now() -> None:
    before = time.time_ns()
    points = parse_line_protocol(
        "telemetry,asset=a,line=l,site=s,tag=t float=1\n"
        'telemetry,asset=a,line=l,site=s,tag=u string="a b"\n'
    )
    after = time.time_ns()
    assert before <= points[0].timestamp_ns <= after
    assert points[0].timestamp_ns == points[1].timestamp_ns
    (fixed,) = parse_line_protocol("telemetry,asset=a,line=l,site=s,tag=t float=1", now_ns=7)
    assert fixed.timestamp_ns == 7


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("telemetry,asset=a,line=l,site=s float=1 1", "missing tag 'tag'"),
        ("telemetry,line=l,site=s,tag=t float=1 1", "missing tag 'asset'"),
        ("telemetry,asset=a,line=l,site=s,tag=t,x=y float=1 1", "unexpected tag 'x'"),
        ("telemetry,asset=a,asset=b,line=l,site=s,tag=t float=1 1", "appears twice"),
        ("telemetry,asset=,line=l,site=s,tag=t float=1 1", "empty value"),
        ("telemetry,asset,line=l,site=s,tag=t float=1 1", "not key=value"),
        ("cpu,asset=a,line=l,site=s,tag=t float=1 1", "measurement must be 'telemetry'"),
        ("telemetry,asset=a,line=l,site=s,tag=t", "missing fields"),
        ("telemetry,asset=a,line=l,site=s,tag=t value=1 1", "field 'value' is not one of"),
        ("telemetry,asset=a,line=l,site=s,tag=t float=1,int=2i 1", "only one field"),
        ('telemetry,asset=a,line=l,site=s,tag=t string="a",int=2i 1', "only one field"),
        ("telemetry,asset=a,line=l,site=s,tag=t float=abc 1", "field 'float' needs a number"),
        ("telemetry,asset=a,line=l,site=s,tag=t float=nan 1", "field 'float' needs a number"),
        ("telemetry,asset=a,line=l,site=s,tag=t int=3 1", "needs an integer like 3i"),
        ("telemetry,asset=a,line=l,site=s,tag=t int=3.5i 1", "needs an integer"),
        ("telemetry,asset=a,line=l,site=s,tag=t bool=yes 1", "needs true or false"),
        ("telemetry,asset=a,line=l,site=s,tag=t string=abc 1", "needs a quoted value"),
        ('telemetry,asset=a,line=l,site=s,tag=t string="abc 1', "no closing double quote"),
        ("telemetry,asset=a,line=l,site=s,tag=t float=1 12a", "timestamp '12a'"),
        ("telemetry,asset=a,line=l,site=s,tag=t float=1 1 2", "unexpected text"),
        ("telemetry,asset=a,line=l,site=s,tag=t float=1 99999999999999999999", "64 bits"),
        ("telemetry,asset=a,line=l,site=s,tag=t int=9223372036854775808i 1", "64 bits"),
    ],
)
def test_rejects_malformed_lines_naming_the_line(line: str, message: str) -> None:
    body = "telemetry,asset=a,line=l,site=s,tag=t float=1 1\n\n" + line
    with pytest.raises(LineProtocolError, match=f"^line 3: .*{message}"):
        parse_line_protocol(body)


def test_line_protocol_error_is_a_value_error() -> None:
    assert issubclass(LineProtocolError, ValueError)


def test_unescapes_like_influxdb_1x() -> None:
    # Read back from influxd 1.6.7: "\\" in a tag value stays two backslashes, "\," is a
    # comma; in a string field "\\" is one backslash and "\x" stays as it is.
    (point,) = parse_line_protocol(
        'telemetry,asset=a\\\\b,line=e\\\\\\,f,site=c\\d,tag=t string="x\\\\y\\z\\"" 1'
    )
    assert point.key == SeriesKey("c\\d", "e\\\\,f", "a\\\\b", "t")
    assert point.value == 'x\\y\\z"'


def test_kinds_cover_every_field_name() -> None:
    assert {k.value for k in ValueKind} == {"float", "int", "bool", "string"}


# --- InfluxQL quoting --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ('x\\"; DROP DATABASE y', '"x\\\\\\"; DROP DATABASE y"'),
        ("a\nb", '"a\\nb"'),
    ],
)
def test_quote_ident(name: str, quoted: str) -> None:
    assert quote_ident(name) == quoted


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("'; DROP DATABASE x; --", "'\\'; DROP DATABASE x; --'"),
        ("end\\", "'end\\\\'"),
        ("end\\'", "'end\\\\\\''"),
        ("a\nb", "'a\\nb'"),
    ],
)
def test_quote_literal(value: str, quoted: str) -> None:
    assert quote_literal(value) == quoted


def _unquote_influxql_string(text: str, quote: str) -> tuple[str, str]:
    """Read one quoted token as InfluxQL's scanner does; returns (value, rest of text)."""
    assert text[0] == quote
    out, i = [], 1
    escapes = {"n": "\n", "\\": "\\", "'": "'", '"': '"'}
    while text[i] != quote:
        if text[i] == "\\":
            out.append(escapes[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out), text[i + 1 :]


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, "end\\", "end\\'", 'end\\"', "a\nb"])
def test_quoting_cannot_change_a_query(name: str) -> None:
    # Each quoted token reads back as exactly the name, ending where the token ends.
    value, rest = _unquote_influxql_string(quote_literal(name) + " AND x", "'")
    assert (value, rest) == (name, " AND x")
    value, rest = _unquote_influxql_string(quote_ident(name) + " FROM", '"')
    assert (value, rest) == (name, " FROM")
    condition = series_condition(SeriesKey(name, name, name, name))
    for _ in range(4):
        _tag_name, condition = condition.split("=", 1)
        value, condition = _unquote_influxql_string(condition, "'")
        assert value == name
        condition = condition.removeprefix(" AND ")
    assert condition == ""
    query = select_raw(SeriesKey(name, "l", "a", "t"), ValueKind.FLOAT, 0, 10, 5)
    assert query.endswith("AND time >= 0 AND time < 10 ORDER BY time ASC LIMIT 5")

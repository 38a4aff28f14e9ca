"""Register decoding against known register patterns, as real devices send them."""

from __future__ import annotations

import struct
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.registers import decode, encode, register_count, scaler


def _float_registers(value: float) -> tuple[int, int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


def test_register_count() -> None:
    assert [register_count(t) for t in ("int16", "uint16", "int32", "uint32", "float32")] == [
        1,
        1,
        2,
        2,
        2,
    ]
    assert [register_count(t) for t in ("int64", "uint64", "float64", "bool")] == [4, 4, 4, 1]
    assert register_count("string", 5) == 5
    with pytest.raises(ValueError, match="float16"):
        register_count("float16")
    with pytest.raises(ValueError, match="length"):
        register_count("string")


def test_float32_big_and_little_word_order() -> None:
    # 123.456 as IEEE 754 is 0x42F6E979: ABCD puts 0x42F6 first, CDAB puts 0xE979 first.
    assert _float_registers(123.456) == (0x42F6, 0xE979)
    assert decode([0x42F6, 0xE979], "float32", "big") == pytest.approx(123.456, abs=1e-4)
    assert decode([0xE979, 0x42F6], "float32", "little") == pytest.approx(123.456, abs=1e-4)
    assert encode(123.456, "float32", "big") == [0x42F6, 0xE979]
    assert encode(123.456, "float32", "little") == [0xE979, 0x42F6]


def test_int32_negative_and_uint32_above_2_31() -> None:
    assert decode([0xFFFF, 0xFFFE], "int32") == -2
    assert decode([0xFFFE, 0xFFFF], "int32", "little") == -2
    assert decode([0x8000, 0x0001], "uint32") == 2**31 + 1
    assert decode([0xFFFF], "int16") == -1
    assert decode([0xFFFF], "uint16") == 65535


def test_unscaled_integers_stay_int_scaled_become_float() -> None:
    counter = decode([0x0001, 0x0000], "uint32")
    assert counter == 65536 and type(counter) is int
    scaled = decode([484], "int16", scale=0.1)
    assert type(scaled) is float and scaled == 48.4
    offset_only = decode([100], "uint16", offset=-40.0)
    assert type(offset_only) is float and offset_only == 60.0
    assert type(decode(encode(1.0, "float32"), "float32")) is float


def test_scale_and_offset() -> None:
    # A 4..20 mA style transmitter mapped to -50..150 degC as raw 0..2000.
    assert decode([1000], "uint16", scale=0.1, offset=-50.0) == pytest.approx(50.0)
    assert encode(50.0, "uint16", scale=0.1, offset=-50.0) == [1000]
    assert decode([0xFC18], "int16", scale=0.01) == pytest.approx(-10.0)  # -1000


@pytest.mark.parametrize(
    ("value", "data_type", "word_order", "scale"),
    [
        (-12345, "int16", "big", 1.0),
        (54321, "uint16", "big", 1.0),
        (-123456789, "int32", "little", 1.0),
        (4_000_000_000, "uint32", "big", 1.0),
        (4_000_000_000, "uint32", "little", 1.0),
        (-1.5e6, "float32", "little", 1.0),
        (16.37, "int16", "big", 0.01),
    ],
)
def test_round_trip(value: float, data_type: str, word_order: str, scale: float) -> None:
    registers = encode(value, data_type, word_order, scale)  # type: ignore[arg-type]
    assert len(registers) == register_count(data_type)
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert decode(registers, data_type, word_order, scale) == pytest.approx(value, rel=1e-6)  # type: ignore[arg-type]


def test_encode_saturates_out_of_range_integers() -> None:
    assert encode(400.0, "int16", scale=0.01) == [0x7FFF]
    assert encode(-5, "uint16") == [0]


def test_wrong_register_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs 2 registers"):
        decode([1], "float32")


@given(
    st.integers(-(2**40), 2**40),
    st.sampled_from([0.1, 0.01, 0.001, -0.1, 0.5, 2.0, 0.3, 1e-5]),
    st.sampled_from([0.0, -40.0]),
)
def test_scaled_integers_read_as_the_decimal_they_stand_for(
    raw: int, scale: float, offset: float
) -> None:
    value = scaler("int64", scale, offset)(raw)
    assert type(value) is float
    exact = Fraction(raw) * Fraction(str(scale)) + Fraction(str(offset))
    # Within one rounding of the decimal the PLC meant (48.4, never 48.400000000000006).
    assert abs(Fraction(value) - exact) <= abs(exact) * Fraction(2, 2**52) + Fraction(1, 10**10)
    if scale in (0.1, 0.01, 0.001, -0.1) and offset == 0:
        assert value == float(exact)  # exactly the nearest double


def test_unscaled_values_need_no_step() -> None:
    assert scaler("uint32", 1.0, 0.0) is None and scaler("float32", 1.0, 0.0) is None
    assert scaler("int16", 0.1, 0.0)(484) == 48.4

"""Modbus registers <-> engineering values: data type, byte and word order, bits, scaling.

Devices disagree on how a multi-register value is laid out, so every tag says it with
the four-letter convention of Modbus tools (for a 32-bit value whose bytes are A B C D,
most significant first):

- ``ABCD``: high word first, high byte first (the Modbus spec's big-endian; the default)
- ``CDAB``: low word first ("word swap", many meters and Schneider PLCs)
- ``BADC``: high word first, bytes swapped in each register
- ``DCBA``: fully little-endian

64-bit values follow the same two choices (word order, byte order within a register).
The legacy ``word_order: big|little`` spellings are ``ABCD`` and ``CDAB``.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

ByteOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
WordOrder = Literal["big", "little"]
BYTE_ORDERS: tuple[str, ...] = ("ABCD", "CDAB", "BADC", "DCBA")
WORD_ORDER_ALIASES: dict[str, str] = {"big": "ABCD", "little": "CDAB"}

# Numeric register types: struct format and registers per value.
NUMERIC_TYPES: dict[str, tuple[str, int]] = {
    "int16": ("h", 1),
    "uint16": ("H", 1),
    "int32": ("i", 2),
    "uint32": ("I", 2),
    "int64": ("q", 4),
    "uint64": ("Q", 4),
    "float32": ("f", 2),
    "float64": ("d", 4),
}
INTEGER_TYPES = frozenset(t for t in NUMERIC_TYPES if "int" in t)
SIXTEEN_BIT_TYPES = frozenset({"int16", "uint16"})
# Every type a tag may declare; ``bool`` is a coil or discrete input, ``string`` spans
# ``length`` registers of ASCII.
DATA_TYPES: tuple[str, ...] = ("bool", *NUMERIC_TYPES, "string")
# Kept for callers that check membership: every register type.
REGISTER_TYPES = frozenset((*NUMERIC_TYPES, "string"))

Value = bool | int | float | str


def byte_order_of(order: str) -> str:
    """``ABCD``… as given, or the legacy ``big``/``little`` word order translated."""
    resolved = WORD_ORDER_ALIASES.get(order, order)
    if resolved not in BYTE_ORDERS:
        raise ValueError(
            f"unknown byte order {order!r} (known: {', '.join(BYTE_ORDERS)}, big, little)"
        )
    return resolved


def register_count(data_type: str, length: int | None = None) -> int:
    """How many 16-bit registers one value of ``data_type`` occupies (bool: 1 bit)."""
    if data_type == "string":
        if not length or length < 1:
            raise ValueError("a string needs a length in registers (length: N)")
        return length
    if data_type == "bool":
        return 1
    try:
        return NUMERIC_TYPES[data_type][1]
    except KeyError:
        known = ", ".join(DATA_TYPES)
        raise ValueError(f"unknown Modbus data type {data_type!r} (known: {known})") from None


def is_raw(data_type: str, scale: float, offset: float) -> bool:
    """True when the value is the integer on the wire, unscaled.

    Counters must stay Python ints so a historian stores them exactly (a float64 loses
    integers above 2**53 and turns "1234" into "1234.0" in line protocol).
    """
    return data_type in INTEGER_TYPES and scale == 1 and offset == 0


def scaler(data_type: str, scale: float, offset: float) -> Callable[[Any], float] | None:
    """``raw * scale + offset`` as one callable; None when the raw number is the value (an
    unscaled integer stays an exact int, an unscaled float is already one)."""
    if scale == 1 and offset == 0:
        return None
    if data_type not in INTEGER_TYPES:
        return lambda raw: float(raw * scale + offset)
    divisor = 1 / scale
    if offset == 0 and divisor == round(divisor) and abs(divisor) < 2**53:
        # A scale of 0.1, 0.01 …: raw / 10 is the double nearest the decimal (484 / 10 is
        # 48.4), in one C call, where 484 * 0.1 is 48.400000000000006.
        return float(round(divisor)).__rtruediv__
    # round(): the scaled integer has only a few decimals; drop the representation noise.
    return lambda raw: float(round(raw * scale + offset, 10))


@dataclass(frozen=True)
class RegisterCodec:
    """How one tag's registers become a value and back; built once per tag.

    Precompiling the struct formats keeps decoding a 200-tag poll to a few hundred
    microseconds, which the benchmark holds against hand-written struct calls.
    """

    data_type: str
    byte_order: str = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    length: int | None = None
    count: int = field(init=False)
    _wire: struct.Struct = field(init=False, repr=False, compare=False)
    _value: struct.Struct | None = field(init=False, repr=False, compare=False)
    _reverse_words: bool = field(init=False, repr=False, compare=False)
    _raw: bool = field(init=False, repr=False, compare=False)
    _scaled: Callable[[Any], float] | None = field(init=False, repr=False, compare=False)
    _fast: Callable[[list[int]], Value] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = byte_order_of(self.byte_order)
        object.__setattr__(self, "byte_order", order)
        count = register_count(self.data_type, self.length)
        if self.data_type == "bool":
            raise ValueError("bool is a coil or discrete input, not a register type")
        if self.bit is not None:
            if self.data_type not in SIXTEEN_BIT_TYPES:
                raise ValueError(f"bit needs a 16-bit register type, not {self.data_type}")
            if not 0 <= self.bit <= 15:
                raise ValueError(f"bit must be within 0..15, got {self.bit}")
            if self.scale != 1 or self.offset != 0:
                raise ValueError("a bit is a bool: scale and offset do not apply")
        if self.data_type == "string" and order in ("CDAB", "DCBA"):
            # Word order has no meaning for text: characters run in register order.
            raise ValueError("a string's byte_order is ABCD or BADC (bytes swapped)")
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        object.__setattr__(self, "count", count)
        # Registers arrive as big-endian 16-bit words ('>H'); swapping bytes within each
        # register is the same as reading them little-endian ('<H').
        swap_bytes = order in ("BADC", "DCBA")
        object.__setattr__(self, "_wire", struct.Struct(("<" if swap_bytes else ">") + "H" * count))
        object.__setattr__(self, "_reverse_words", order in ("CDAB", "DCBA"))
        fmt = NUMERIC_TYPES.get(self.data_type)
        object.__setattr__(self, "_value", struct.Struct(">" + fmt[0]) if fmt else None)
        object.__setattr__(self, "_raw", is_raw(self.data_type, self.scale, self.offset))
        object.__setattr__(self, "_scaled", scaler(self.data_type, self.scale, self.offset))
        object.__setattr__(self, "_fast", self._fast_decoder())

    def _fast_decoder(self) -> Callable[[list[int]], Value] | None:
        """A decoder without branches for the layouts most maps are made of.

        A poll decodes every tag every cycle: 16-bit values and ABCD/CDAB 32-bit values
        are most of a typical map, and going straight to struct for them is what keeps
        the driver near hand-written code. Everything else takes the general path.
        """
        if self.bit is not None or self._value is None or self.byte_order not in ("ABCD", "CDAB"):
            return None
        unpack = self._value.unpack
        if self.count == 1:
            if self.data_type == "uint16":
                raw: Callable[[list[int]], int | float] = operator.itemgetter(0)
            else:
                raw = lambda r: r[0] - 0x10000 if r[0] & 0x8000 else r[0]  # noqa: E731
        elif self.count == 2:
            words = struct.Struct(">HH").pack
            if self.byte_order == "ABCD":
                raw = lambda r: unpack(words(r[0], r[1]))[0]  # noqa: E731
            else:
                raw = lambda r: unpack(words(r[1], r[0]))[0]  # noqa: E731
        else:
            return None
        scaled = self._scaled
        if scaled is None:
            return raw
        return lambda r: scaled(raw(r))

    def decode(self, registers: list[int]) -> Value:
        """Registers as read from the device -> ``raw * scale + offset`` (or bool, str)."""
        if len(registers) != self.count:
            raise ValueError(f"{self.data_type} needs {self.count} registers, got {len(registers)}")
        if self._fast is not None:
            return self._fast(registers)
        if self.bit is not None:
            return bool((registers[0] >> self.bit) & 1)
        if self._reverse_words:
            registers = registers[::-1]
        data = self._wire.pack(*registers)
        if self._value is None:  # string
            return data.rstrip(b"\x00").decode("ascii", errors="replace")
        (raw,) = self._value.unpack(data)
        return raw if self._scaled is None else self._scaled(raw)

    def encode(self, value: Value) -> list[int]:
        """An engineering value -> registers, the inverse of :meth:`decode`.

        Integer types are rounded to the nearest step and clamped to the type's range, as
        a PLC would saturate rather than wrap a scaled measurement.
        """
        if self.bit is not None:
            raise ValueError("a single bit of a register cannot be written on its own")
        if self._value is None:
            text = str(value).encode("ascii")
            if len(text) > 2 * self.count:
                raise ValueError(
                    f"{len(text)} characters do not fit in {self.count} registers "
                    f"({2 * self.count} at most)"
                )
            data = text.ljust(2 * self.count, b"\x00")
        elif self.data_type in INTEGER_TYPES:
            if isinstance(value, str):
                raise ValueError(f"{self.data_type} needs a number, got {value!r}")
            raw = value if self._raw else round((float(value) - self.offset) / self.scale)
            lo, hi = _int_range(self.data_type)
            data = self._value.pack(min(max(int(raw), lo), hi))
        else:
            if isinstance(value, str):
                raise ValueError(f"{self.data_type} needs a number, got {value!r}")
            data = self._value.pack((float(value) - self.offset) / self.scale)
        registers = list(self._wire.unpack(data))
        return registers[::-1] if self._reverse_words else registers


@lru_cache(maxsize=1024)
def codec(
    data_type: str,
    byte_order: str = "ABCD",
    scale: float = 1.0,
    offset: float = 0.0,
    bit: int | None = None,
    length: int | None = None,
) -> RegisterCodec:
    """A shared codec for these settings (codecs are immutable)."""
    return RegisterCodec(data_type, byte_order, scale, offset, bit, length)


def decode(
    registers: list[int],
    data_type: str,
    byte_order: str = "ABCD",
    scale: float = 1.0,
    offset: float = 0.0,
    *,
    bit: int | None = None,
    length: int | None = None,
) -> Value:
    """Registers read from a device -> ``raw * scale + offset``.

    ``byte_order`` also takes the legacy word orders ``big`` and ``little``.
    """
    if data_type == "string" and length is None:
        length = len(registers)
    return codec(data_type, byte_order, scale, offset, bit, length).decode(list(registers))


def encode(
    value: Value,
    data_type: str,
    byte_order: str = "ABCD",
    scale: float = 1.0,
    offset: float = 0.0,
    *,
    length: int | None = None,
) -> list[int]:
    """An engineering value -> registers, the inverse of :func:`decode`."""
    return codec(data_type, byte_order, scale, offset, None, length).encode(value)


def _int_range(data_type: str) -> tuple[int, int]:
    bits = 16 * NUMERIC_TYPES[data_type][1]
    if data_type.startswith("u"):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

"""One value in a Modbus device's map: which table, where, and how its bits are read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from protocols.registers import (
    DATA_TYPES,
    RegisterCodec,
    Value,
    byte_order_of,
    register_count,
)

Table = Literal["coil", "discrete", "holding", "input"]
TABLES: tuple[str, ...] = ("coil", "discrete", "holding", "input")
BIT_TABLES = frozenset({"coil", "discrete"})
# What an integrator calls one address of each table, for error messages.
TABLE_NOUNS: dict[str, str] = {
    "coil": "coil",
    "discrete": "discrete input",
    "holding": "holding register",
    "input": "input register",
}


@dataclass(frozen=True)
class ModbusTag:
    """One value in a device's map.

    ``address`` is the protocol address starting at 0 (what goes on the wire), not the
    1-based "40001" notation of some manuals. Coils and discrete inputs are ``bool``;
    register tables hold numbers, strings of ``length`` registers, or one ``bit`` of a
    16-bit register. ``byte_order`` also accepts the legacy ``big``/``little``.
    """

    name: str
    table: Table
    address: int
    data_type: str
    byte_order: str = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    length: int | None = None
    count: int = field(init=False, repr=False, compare=False)
    codec: RegisterCodec | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError(f"tag {self.name!r}: table must be one of {', '.join(TABLES)}")
        if self.data_type not in DATA_TYPES:
            raise ValueError(
                f"tag {self.name!r}: unknown data type {self.data_type!r} "
                f"(known: {', '.join(DATA_TYPES)})"
            )
        try:
            object.__setattr__(self, "byte_order", byte_order_of(self.byte_order))
            if self.table in BIT_TABLES:
                if self.data_type != "bool":
                    raise ValueError(f"a {self.table} is a bool, not {self.data_type}")
                codec = None
            else:
                if self.data_type == "bool":
                    raise ValueError(
                        f"bool lives in coils or discrete inputs; in a {self.table} register"
                        " read one bit with type uint16 and bit: N"
                    )
                codec = RegisterCodec(
                    self.data_type, self.byte_order, self.scale, self.offset, self.bit, self.length
                )
        except ValueError as exc:
            raise ValueError(f"tag {self.name!r}: {exc}") from None
        count = register_count(self.data_type, self.length)
        if not 0 <= self.address <= 65536 - count:
            raise ValueError(f"tag {self.name!r}: address {self.address} out of 0..65535")
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "codec", codec)

    @property
    def word_order(self) -> str:
        """The legacy spelling, for callers written before byte orders."""
        return "little" if self.byte_order in ("CDAB", "DCBA") else "big"

    @property
    def where(self) -> str:
        """``holding register 100``: the tag's place, as a message names it."""
        return f"{TABLE_NOUNS[self.table]} {self.address}"

    def decode(self, words: list[int] | list[bool]) -> Value:
        """Registers (or bits) read for this tag -> its value."""
        if self.codec is None:
            return bool(words[0])
        return self.codec.decode(words)  # type: ignore[arg-type]

    def encode(self, value: Value) -> list[int] | list[bool]:
        """The value to write -> registers (or one bit)."""
        if self.codec is None:
            if not isinstance(value, bool | int) or value not in (0, 1):
                raise ValueError(f"tag {self.name!r}: a {self.table} takes true or false")
            return [bool(value)]
        try:
            return self.codec.encode(value)
        except ValueError as exc:
            raise ValueError(f"tag {self.name!r}: {exc}") from None

"""Decoding one planned Modbus read into Samples with as little Python per tag as possible.

The tag-by-tag path (:meth:`RegisterCodec.decode` on a slice of the response) costs a
slice, a length check and two calls per tag. Here a request's registers are packed into
bytes once, and every tag is one precompiled ``struct.unpack_from`` at its byte offset:

- ``ABCD`` and ``DCBA`` values read the packed registers big- or little-endian;
- ``CDAB`` and ``BADC`` values (word-swapped) read the same registers packed in reverse
  order, where their words appear high word first, at the mirrored offset.

Tags that read the same bytes the same way are gathered into one struct format with pad
bytes between them, so most requests decode every tag with one ``unpack_from``.

Strings and single bits of a register keep the codec's general path. A response that
does not fit (short, or a register out of range) raises, and the driver then decodes tag
by tag so that only the bad tags say so.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from protocols.modbus_tag import BIT_TABLES
from protocols.registers import NUMERIC_TYPES, scaler
from protocols.sample import Quality, Sample

_GOOD = Quality.GOOD
_new_sample = tuple.__new__  # Sample(...) without the NamedTuple's Python-level __new__
Unpack = Callable[[bytes, int], tuple[Any, ...]]
Post = Callable[[Any], Any] | None
# slot index, tag name, post-processing (None: the raw value)
_Target = tuple[int, str, Post]


class _Group:
    """Non-overlapping values read from one buffer with one byte order: one struct."""

    def __init__(self, mirrored: bool, endian: str) -> None:
        self.mirrored = mirrored
        self.endian = endian
        # byte offset, size, struct code, target
        self.fields: list[tuple[int, int, str, _Target]] = []

    def fits(self, offset: int, size: int) -> bool:
        return all(offset + size <= o or o + n <= offset for o, n, _, _ in self.fields)

    def compile(self) -> tuple[Unpack, bool, list[_Target]]:
        fields = sorted(self.fields, key=lambda f: f[0])
        fmt, position = self.endian, 0
        for offset, size, code, _ in fields:
            if offset > position:
                fmt += f"{offset - position}x"
            fmt += code
            position = offset + size
        return struct.Struct(fmt).unpack_from, self.mirrored, [f[3] for f in fields]


def _straight_line_fill(
    groups: list[tuple[Unpack, bool, list[_Target]]],
) -> Callable[[bytes, bytes, int, list[Sample | None]], None]:
    """One function that unpacks every group and stores every tag's Sample, written out
    statement by statement (as ``namedtuple`` and ``dataclasses`` write their methods).

    The loop it replaces spent as long on iterating, unpacking targets and testing for a
    post-processing step as on the values themselves. Only integers (positions, indices)
    are written into the source; names and callables are looked up in its namespace.
    """
    namespace: dict[str, Any] = {"new": _new_sample, "cls": Sample, "good": _GOOD}
    names: list[str] = []
    lines = ["def fill(data, mirrored, started, samples):"]
    for g, (unpack, from_mirrored, targets) in enumerate(groups):
        namespace[f"unpack{g}"] = unpack
        lines.append(f"    v = unpack{g}({'mirrored' if from_mirrored else 'data'})")
        for k, (index, name, post) in enumerate(targets):
            value = f"v[{k}]"
            if post is not None:
                namespace[f"post{g}_{k}"] = post
                value = f"post{g}_{k}({value})"
            lines.append(
                f"    samples[{int(index)}] = new(cls, "
                f"(names[{len(names)}], {value}, started, good, None, None))"
            )
            names.append(name)
    lines.append("    return None")
    namespace["names"] = tuple(names)
    exec(compile("\n".join(lines), "<modbus request decoder>", "exec"), namespace)
    return namespace["fill"]


class RequestDecoder:
    """Turns the words (or bits) of one response into Samples for the request's tags."""

    def __init__(self, table: str, address: int, count: int, slots: Sequence[Any]) -> None:
        self.bits = table in BIT_TABLES
        self._pack = struct.Struct(f">{count}H").pack
        self.general: list[tuple[int, Any, int]] = []  # slot index, tag, word offset
        self.bit_entries: list[tuple[int, str, int]] = []
        groups: list[_Group] = []
        for slot in slots:
            tag = slot.tag
            start = tag.address - address
            if self.bits:
                self.bit_entries.append((slot.index, tag.name, start))
                continue
            codec = tag.codec
            fmt = NUMERIC_TYPES.get(tag.data_type)
            if codec is None or fmt is None or codec.bit is not None:
                self.general.append((slot.index, tag, start))
                continue
            order = codec.byte_order
            endian = "<" if order in ("DCBA", "BADC") else ">"
            mirrored = fmt[1] > 1 and order in ("CDAB", "BADC")
            offset = 2 * (count - start - fmt[1]) if mirrored else 2 * start
            target = (slot.index, tag.name, scaler(tag.data_type, codec.scale, codec.offset))
            group = next(
                (
                    g
                    for g in groups
                    if g.mirrored == mirrored and g.endian == endian and g.fits(offset, 2 * fmt[1])
                ),
                None,
            )
            if group is None:
                group = _Group(mirrored, endian)
                groups.append(group)
            group.fields.append((offset, 2 * fmt[1], fmt[0], target))
        self.groups = [g.compile() for g in groups]
        self.needs_mirror = any(g.mirrored for g in groups)
        self._fill_groups = _straight_line_fill(self.groups)

    def fill(self, words: list, started: int, samples: list[Sample | None]) -> None:
        """Write one GOOD Sample per tag into ``samples`` at the tag's slot index.

        Raises ``struct.error``, ``ValueError`` or ``IndexError`` on a response that does
        not fit the request; ``samples`` may then be partly written.
        """
        new, cls, good = _new_sample, Sample, _GOOD
        if self.bits:
            for index, name, offset in self.bit_entries:
                samples[index] = new(cls, (name, bool(words[offset]), started, good, None, None))
            return
        data = self._pack(*words)
        mirrored = self._pack(*reversed(words)) if self.needs_mirror else data
        self._fill_groups(data, mirrored, started, samples)
        for index, tag, start in self.general:
            value = tag.codec.decode(words[start : start + tag.count])
            samples[index] = new(cls, (tag.name, value, started, good, None, None))

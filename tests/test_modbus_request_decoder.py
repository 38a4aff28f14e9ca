"""The precompiled request decoder gives exactly what each tag's codec gives alone."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.modbus_plan import span
from protocols.modbus_request_decoder import RequestDecoder
from protocols.modbus_tag import ModbusTag
from protocols.registers import BYTE_ORDERS, NUMERIC_TYPES
from protocols.sample import Quality

LAYOUTS = [(t, o) for t in NUMERIC_TYPES for o in BYTE_ORDERS]


@st.composite
def register_maps(draw):
    """A handful of tags of every type, order, scaling and bit, overlapping at times."""
    tags = []
    for i in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["numeric", "numeric", "bit", "string"]))
        address = draw(st.integers(0, 40))
        if kind == "numeric":
            data_type, order = draw(st.sampled_from(LAYOUTS))
            scale = draw(st.sampled_from([1.0, 0.1, 2.5]))
            offset = draw(st.sampled_from([0.0, -40.0]))
            tags.append(ModbusTag(f"t{i}", "holding", address, data_type, order, scale, offset))
        elif kind == "bit":
            bit = draw(st.integers(0, 15))
            tags.append(ModbusTag(f"t{i}", "holding", address, "uint16", bit=bit))
        else:
            order = draw(st.sampled_from(["ABCD", "BADC"]))
            tags.append(ModbusTag(f"t{i}", "input", address, "string", order, length=3))
    return tags


def _slots(tags):
    return [
        SimpleNamespace(index=i, tag=t, table="holding", address=t.address, count=t.count)
        for i, t in enumerate(tags)
    ]


@settings(max_examples=300, deadline=None)
@given(register_maps(), st.randoms(use_true_random=False))
def test_matches_the_codec_of_every_tag(tags, rng) -> None:
    slots = _slots(tags)
    request = span("holding", slots)
    words = [rng.randrange(65536) for _ in range(request.count)]
    samples = [None] * len(tags)
    RequestDecoder("holding", request.address, request.count, slots).fill(words, 7, samples)
    for slot, sample in zip(slots, samples, strict=True):
        start = slot.tag.address - request.address
        expected = slot.tag.decode(words[start : start + slot.tag.count])
        assert sample.tag == slot.tag.name
        assert sample.quality is Quality.GOOD and sample.timestamp_ns == 7
        if expected != expected:  # NaN from random float bits
            assert sample.value != sample.value
        else:
            assert sample.value == expected and type(sample.value) is type(expected)


def test_coils_are_bools_at_their_offset() -> None:
    tags = [ModbusTag("a", "coil", 10, "bool"), ModbusTag("b", "coil", 13, "bool")]
    samples = [None, None]
    RequestDecoder("coil", 10, 4, _slots(tags)).fill([1, 0, 0, 0, 0, 0, 0, 0], 1, samples)
    assert [(s.tag, s.value) for s in samples] == [("a", True), ("b", False)]


def test_a_short_response_raises_so_the_driver_can_decode_tag_by_tag() -> None:
    tags = [ModbusTag("a", "holding", 0, "uint16"), ModbusTag("b", "holding", 4, "float32")]
    decoder = RequestDecoder("holding", 0, 6, _slots(tags))
    with pytest.raises((struct.error, ValueError, IndexError)):
        decoder.fill([1, 2, 3], 1, [None, None])

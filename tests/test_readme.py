"""The README's register maps are the simulators' own: a changed map fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocols.simulators import PLANTS

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("industry", sorted(PLANTS))
def test_every_simulator_point_is_documented(industry: str) -> None:
    plant = PLANTS[industry]
    assert f"`mingzhou sim --industry {industry}`" in README
    for point in plant.points:
        row = f"| {point.asset} | {point.tag} | `{point.location}` | {point.data_type}"
        assert row in README, row


def test_readme_opens_with_the_two_commands() -> None:
    head = README[: README.index("## A short tour")]
    assert "make demo" in head and "make test" in head


def test_the_example_agent_config_is_valid(tmp_path) -> None:
    from edge_agent.config import load_config

    start = README.index("```yaml\nagent:\n")
    text = README[start + len("```yaml\n") : README.index("```", start + 8)]
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    config = load_config(path, {"INFLUX_USER": "u", "INFLUX_PASSWORD": "p"})
    assert [d.protocol for d in config.devices] == ["opcua", "modbus"]
    assert config.buffer.max_size == 2 << 30

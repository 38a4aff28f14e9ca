"""The bureau's indicators, index and levels against values worked out by hand, and the
refusals of impossible facts and bad index configs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analytics.bureau.facts import EnterpriseFacts, FactsError, Module, previous_periods
from analytics.bureau.index import (
    IndexConfigError,
    assess_enterprise,
    composite_index,
    load_index_config,
    parse_index_config,
)
from analytics.bureau.indicators import DEFINITIONS, Indicator, compute_indicators

M = Module


def facts(**overrides) -> EnterpriseFacts:
    base = dict(
        enterprise_key="e",
        period="2026-10",
        district="Beilun",
        industry_cloud="mold-cloud",
        machines_registered=10,
        machines_connected=5,
        tags_configured=50,
        tags_reporting=25,
        agent_uptime=0.9,
        digital_control_machines=5,
        modules_in_use={M.MONITORING},
        oee=None,
        energy_kwh=None,
        output_units=None,
        output_unit=None,
        output_value_10k_yuan=None,
        machines_under_model=0,
        predictions_raised=0,
        predictions_acted_on=0,
    )
    base.update(overrides)
    return EnterpriseFacts(**base)


# A: a mold shop half way there.
A = facts(
    enterprise_key="mold-a",
    machines_registered=20,
    machines_connected=15,
    tags_configured=120,
    tags_reporting=96,
    agent_uptime=0.95,
    digital_control_machines=12,
    modules_in_use={M.MONITORING, M.OEE, M.ENERGY},
    oee=0.68,
    energy_kwh=250_000.0,
    output_units=500_000.0,
    output_unit="part",
    output_value_10k_yuan=90.0,
)
# B: an appliance plant with everything.
B = facts(
    enterprise_key="appliance-b",
    district="Cixi",
    industry_cloud="appliance-cloud",
    machines_registered=40,
    machines_connected=40,
    tags_configured=210,
    tags_reporting=210,
    agent_uptime=0.99,
    digital_control_machines=36,
    modules_in_use=set(Module),
    oee=0.90,
    energy_kwh=120_000.0,
    output_units=24_000.0,
    output_unit="unit",
    output_value_10k_yuan=None,
    machines_under_model=30,
    predictions_raised=10,
    predictions_acted_on=8,
)
# C: a pump station that has just started.
C = facts(
    enterprise_key="petro-c",
    district="Zhenhai",
    industry_cloud="petrochem-cloud",
    machines_registered=30,
    machines_connected=3,
    tags_configured=24,
    tags_reporting=12,
    agent_uptime=0.8,
    digital_control_machines=6,
    modules_in_use={M.MONITORING},
    output_units=1000.0,
    output_unit="t",
    output_value_10k_yuan=4500.0,
)
# D: signed up, nothing registered yet.
D = facts(
    enterprise_key="new-d",
    machines_registered=0,
    machines_connected=0,
    tags_configured=0,
    tags_reporting=0,
    agent_uptime=None,
    digital_control_machines=0,
    modules_in_use=set(),
)

HAND = {
    # A: 15/20 = 75 %; 96/120 = 80 %; 0.95 → 95 %; 12/20 = 60 %; 3 modules/4 = 75 %;
    # OEE 0.68 → 68 %; 250,000 kWh / 500,000 parts = 0.5 kWh/part;
    # 250,000 kWh / 90 (10⁴ yuan) = 2,777.78; 0/20 machines under a model = 0 %;
    # no prediction raised → None.
    "mold-a": {
        Indicator.EQUIPMENT_NETWORKING_RATE: 75.0,
        Indicator.DATA_COLLECTION_COVERAGE: 80.0,
        Indicator.COLLECTION_AVAILABILITY: 95.0,
        Indicator.DIGITAL_CONTROL_RATE: 60.0,
        Indicator.CLOUD_ADOPTION: 75.0,
        Indicator.OEE_LEVEL: 68.0,
        Indicator.ENERGY_PER_UNIT: 0.5,
        Indicator.ENERGY_PER_10K_YUAN: 2777.7777777777778,
        Indicator.PREDICTIVE_MAINTENANCE_COVERAGE: 0.0,
        Indicator.PREDICTION_ACTION_RATE: None,
    },
    # B: 40/40 = 100 %; 210/210 = 100 %; 99 %; 36/40 = 90 %; 4/4 = 100 %; OEE 90 %;
    # 120,000 kWh / 24,000 units = 5 kWh/unit; no output value → None;
    # 30/40 = 75 %; 8 of 10 predictions got a work order = 80 %.
    "appliance-b": {
        Indicator.EQUIPMENT_NETWORKING_RATE: 100.0,
        Indicator.DATA_COLLECTION_COVERAGE: 100.0,
        Indicator.COLLECTION_AVAILABILITY: 99.0,
        Indicator.DIGITAL_CONTROL_RATE: 90.0,
        Indicator.CLOUD_ADOPTION: 100.0,
        Indicator.OEE_LEVEL: 90.0,
        Indicator.ENERGY_PER_UNIT: 5.0,
        Indicator.ENERGY_PER_10K_YUAN: None,
        Indicator.PREDICTIVE_MAINTENANCE_COVERAGE: 75.0,
        Indicator.PREDICTION_ACTION_RATE: 80.0,
    },
    # C: 3/30 = 10 %; 12/24 = 50 %; 80 %; 6/30 = 20 %; 1/4 = 25 %; no OEE → None;
    # no energy metered → both intensities None; 0/30 = 0 %; no prediction → None.
    "petro-c": {
        Indicator.EQUIPMENT_NETWORKING_RATE: 10.0,
        Indicator.DATA_COLLECTION_COVERAGE: 50.0,
        Indicator.COLLECTION_AVAILABILITY: 80.0,
        Indicator.DIGITAL_CONTROL_RATE: 20.0,
        Indicator.CLOUD_ADOPTION: 25.0,
        Indicator.OEE_LEVEL: None,
        Indicator.ENERGY_PER_UNIT: None,
        Indicator.ENERGY_PER_10K_YUAN: None,
        Indicator.PREDICTIVE_MAINTENANCE_COVERAGE: 0.0,
        Indicator.PREDICTION_ACTION_RATE: None,
    },
    # D: nothing registered: every ratio over machines or tags is None (not 0), no agent
    # → None; cloud adoption 0 modules / 4 = 0 % is a measured zero.
    "new-d": {
        Indicator.EQUIPMENT_NETWORKING_RATE: None,
        Indicator.DATA_COLLECTION_COVERAGE: None,
        Indicator.COLLECTION_AVAILABILITY: None,
        Indicator.DIGITAL_CONTROL_RATE: None,
        Indicator.CLOUD_ADOPTION: 0.0,
        Indicator.OEE_LEVEL: None,
        Indicator.ENERGY_PER_UNIT: None,
        Indicator.ENERGY_PER_10K_YUAN: None,
        Indicator.PREDICTIVE_MAINTENANCE_COVERAGE: None,
        Indicator.PREDICTION_ACTION_RATE: None,
    },
}


@pytest.mark.parametrize("enterprise", [A, B, C, D], ids=lambda f: f.enterprise_key)
def test_every_indicator_matches_the_hand_calculation(enterprise: EnterpriseFacts) -> None:
    got = compute_indicators(enterprise)
    expected = HAND[enterprise.enterprise_key]
    assert set(got.values) == set(Indicator) == set(expected)
    for key, value in expected.items():
        result = got.values[key]
        if value is None:
            assert result.value is None, key
            assert result.missing_reason, f"{key}: None without a reason"
        else:
            assert result.value == pytest.approx(value, rel=1e-12), key
            assert result.missing_reason is None


def test_missing_reasons_name_the_missing_input() -> None:
    values = compute_indicators(D).values
    assert values[Indicator.EQUIPMENT_NETWORKING_RATE].missing_reason == (
        "no machine in the asset register"
    )
    assert values[Indicator.COLLECTION_AVAILABILITY].missing_reason == "no edge agent registered"
    assert "output value not reported" in (
        compute_indicators(B).values[Indicator.ENERGY_PER_10K_YUAN].missing_reason or ""
    )
    assert compute_indicators(C).values[Indicator.ENERGY_PER_UNIT].missing_reason == (
        "no energy metered"
    )


def test_oee_above_one_is_no_value_not_a_reward() -> None:
    result = compute_indicators(facts(oee=1.05)).values[Indicator.OEE_LEVEL]
    assert result.value is None
    assert "ideal cycle time" in (result.missing_reason or "")


def test_zero_output_gives_no_intensity() -> None:
    got = compute_indicators(
        facts(energy_kwh=10.0, output_units=0.0, output_unit="part", output_value_10k_yuan=0.0)
    )
    assert got.value(Indicator.ENERGY_PER_UNIT) is None
    assert got.value(Indicator.ENERGY_PER_10K_YUAN) is None


def test_every_indicator_has_definition_unit_and_source() -> None:
    assert set(DEFINITIONS) == set(Indicator)
    for d in DEFINITIONS.values():
        assert d.name and d.name_zh and d.definition and d.unit and d.source


def test_index_and_level_match_the_hand_calculation() -> None:
    config = load_index_config()
    # A: present weights 20+15+10+15+15+10 (PdM coverage)+10 (OEE) = 95; the 5 of
    # predictions acted on is missing and shared out.
    # 20×0.75 + 15×0.80 + 10×0.95 + 15×0.60 + 15×0.75 + 10×0 + 10×(68/85 = 0.80)
    # = 15 + 12 + 9.5 + 9 + 11.25 + 0 + 8 = 64.75; 100 × 64.75 / 95 = 68.157… → 68.2
    a = assess_enterprise(A, config).index
    assert a.score == 68.2
    assert a.level == "integrated"
    assert a.weight_present == pytest.approx(0.95)
    assert a.missing == (Indicator.PREDICTION_ACTION_RATE,)
    # B: every weight present (100). OEE 90 % ≥ 85 % scores 1.
    # 20×1 + 15×1 + 10×0.99 + 15×0.90 + 15×1 + 10×0.75 + 5×0.80 + 10×1
    # = 20 + 15 + 9.9 + 13.5 + 15 + 7.5 + 4 + 10 = 94.9
    b = assess_enterprise(B, config).index
    assert b.score == 94.9
    assert b.level == "innovative"
    # C: present 20+15+10+15+15+10 = 85 (OEE 10 and acted-on 5 missing), share 0.85.
    # 20×0.10 + 15×0.50 + 10×0.80 + 15×0.20 + 15×0.25 + 10×0 = 2 + 7.5 + 8 + 3 + 3.75
    # = 24.25; 100 × 24.25 / 85 = 28.529… → 28.5
    c = assess_enterprise(C, config).index
    assert c.score == 28.5
    assert c.level == "starting"
    # D: only cloud adoption (15 of 100) has a value: below the 50 % needed, no index.
    d = assess_enterprise(D, config).index
    assert d.score is None and d.level is None
    assert d.weight_present == pytest.approx(0.15)
    assert "15%" in (d.missing_reason or "")


def test_levels_follow_the_rounded_score_and_thresholds() -> None:
    config = load_index_config()
    assert [lv.key for lv in config.levels] == [
        "starting",
        "single_point",
        "integrated",
        "innovative",
    ]
    assert config.level_for(0).key == "starting"
    assert config.level_for(39.9).key == "starting"
    assert config.level_for(40.0).key == "single_point"
    assert config.level_for(59.9).key == "single_point"
    assert config.level_for(60.0).key == "integrated"
    assert config.level_for(80.0).key == "innovative"
    assert config.level_for(100.0).key == "innovative"


def test_custom_weights_renormalise_over_indicators_present() -> None:
    config = parse_index_config(
        {
            "weights": {"equipment_networking_rate": 3, "oee_level": 1},
            "oee_full_score_pct": 80,
            "min_weight_present": 0.7,
            "levels": [
                {"key": "low", "name": "Low", "min_score": 0},
                {"key": "high", "name": "High", "min_score": 50},
            ],
        }
    )
    # A: (3×0.75 + 1×(68/80 = 0.85)) / 4 = (2.25 + 0.85) / 4 = 0.775 → 77.5, "high".
    a = composite_index(compute_indicators(A), config)
    assert (a.score, a.level) == (77.5, "high")
    # C: OEE missing, 3 of 4 weight (0.75 ≥ 0.7) present: the index is the networking
    # rate alone, 10 %.
    c = composite_index(compute_indicators(C), config)
    assert (c.score, c.level, c.weight_present) == (10.0, "low", 0.75)
    # With 0.8 needed, C has no index.
    stricter = config.model_copy(update={"min_weight_present": 0.8})
    assert composite_index(compute_indicators(C), stricter).score is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "weights.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "weights: {equipment_networking_rate: 1, erp_rate: 2}\nlevels: [{key: a, name: A, min_score: 0}]\n",
            "weights.erp_rate.[key]: Input should be 'equipment_networking_rate'",
        ),
        (
            "weights: {equipment_networking_rate: -1}\nlevels: [{key: a, name: A, min_score: 0}]\n",
            "weights.equipment_networking_rate: Input should be greater than or equal to 0",
        ),
        (
            "weights: {energy_per_unit: 1}\nlevels: [{key: a, name: A, min_score: 0}]\n",
            "weights: Value error, energy_per_unit cannot be weighted",
        ),
        (
            "weights: {oee_level: 0}\nlevels: [{key: a, name: A, min_score: 0}]\n",
            "weights: Value error, at least one weight must be above 0",
        ),
        (
            "weights: {oee_level: 1}\nlevels: [{key: a, name: A, min_score: 0}, {key: b, name: B, min_score: 0}]\n",
            "levels: Value error, min_score must increase: b (0.0) follows a (0.0)",
        ),
        (
            "weights: {oee_level: 1}\nlevels: [{key: a, name: A, min_score: 10}]\n",
            "levels: Value error, the first level must start at min_score 0",
        ),
        (
            "weights: {oee_level: 1}\nlevels: [{key: a, name: A, min_score: 0}]\noee_full_score: 80\n",
            "oee_full_score: Extra inputs are not permitted",
        ),
        (
            "weights: {oee_level: 1}\nlevels: [{key: a, name: A, min_score: 0}]\nmin_weight_present: 1.5\n",
            "min_weight_present: Input should be less than or equal to 1",
        ),
        ("weights: {oee_level: 1\nlevels: []\n", "line 2, column 7: not valid YAML"),
        ("- just a list\n", "expected a mapping with weights and levels"),
    ],
)
def test_bad_weights_file_names_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(IndexConfigError) as caught:
        load_index_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_missing_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexConfigError, match=r"nope\.yaml: no such file"):
        load_index_config(tmp_path / "nope.yaml")


def test_shipped_weights_are_documented_in_the_readme() -> None:
    config = load_index_config()
    readme = (Path(__file__).parents[1] / "analytics/bureau/README.md").read_text()
    table = readme.split("| indicator | weight | share |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(config.weights)
    for key, weight in config.weights.items():
        row = next(line for line in rows if line.startswith(f"| `{key.value}` |"))
        assert row.startswith(f"| `{key.value}` | {weight:g} | {weight:g} % |"), row
    assert config.total_weight == 100


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"machines_connected": 11},
            "machines_connected: 11 is more than machines_registered (10)",
        ),
        ({"tags_reporting": 51}, "tags_reporting: 51 is more than tags_configured (50)"),
        ({"digital_control_machines": 12}, "digital_control_machines: 12 is more than"),
        ({"machines_under_model": 11}, "machines_under_model: 11 is more than"),
        (
            {"predictions_acted_on": 1},
            "predictions_acted_on: 1 is more than predictions_raised (0)",
        ),
        ({"agent_uptime": 1.2}, "agent_uptime: is a fraction of the period (0–1), not 1.2"),
        ({"energy_kwh": math.nan}, "energy_kwh: must be a finite number ≥ 0"),
        ({"oee": -0.1}, "oee: must be a finite number ≥ 0"),
        ({"machines_registered": -1}, "machines_registered: must be a whole number ≥ 0"),
        (
            {"machines_registered": True},
            "machines_registered: must be a whole number ≥ 0, not True",
        ),
        ({"tags_configured": 5.0}, "tags_configured: must be a whole number ≥ 0, not 5.0"),
        (
            {"modules_in_use": {"monitoring", "erp"}},
            "modules_in_use: ['erp', 'monitoring'] holds an unknown module",
        ),
        ({"modules_in_use": "monitoring"}, "modules_in_use: must be a set of modules"),
        ({"period": "2026-13"}, "period: period '2026-13' is not a month written YYYY-MM"),
        ({"district": " "}, "district: must be a non-empty string or None"),
    ],
)
def test_impossible_facts_are_refused_with_field(overrides: dict, field: str) -> None:
    with pytest.raises(FactsError) as caught:
        facts(**overrides)
    assert "facts of 'e' for" in str(caught.value)
    assert field in str(caught.value)


def test_facts_round_trip_through_json_dicts() -> None:
    data = B.to_dict()
    assert data["modules_in_use"] == ["energy", "maintenance", "monitoring", "oee"]
    assert EnterpriseFacts.from_dict(data) == B
    with pytest.raises(FactsError, match=r"unknown field\(s\) \['name'\]"):
        EnterpriseFacts.from_dict({**data, "name": "Acme Moulding Ltd"})
    del data["oee"]
    with pytest.raises(FactsError, match=r"missing field\(s\) \['oee'\]"):
        EnterpriseFacts.from_dict(data)


def test_modules_given_as_strings_become_modules() -> None:
    f = facts(modules_in_use=["oee", "monitoring"])
    assert f.modules_in_use == frozenset({M.OEE, M.MONITORING})


def test_previous_periods_cross_the_year() -> None:
    assert previous_periods("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(ValueError, match="not a month"):
        previous_periods("2026-2", 1)

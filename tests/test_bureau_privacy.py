"""The bureau's privacy rules: small groups merged, and no combination of the published
numbers (districts, industry clouds, region) isolates fewer than k enterprises.

The check rebuilds, from the published groups alone, the linear system a reader of the
report can write (each published mean × its contributors is a sum over known members)
and tests whether the indicator vector of any small set of enterprises, or the
difference of two enterprises, lies in its row space: if it does, that set's total
(or the difference) can be computed from the report.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import statistics
import typing
from collections.abc import Iterable

import numpy as np
import pytest

from analytics.bureau import aggregation
from analytics.bureau.aggregation import (
    MEASURES,
    OTHER_GROUP,
    UNASSIGNED_GROUP,
    BureauAggregates,
    Dimension,
    GroupAggregate,
    MeasureStatus,
    aggregate,
    merge_small_groups,
    protected_cells,
)
from analytics.bureau.facts import EnterpriseFacts, Module
from analytics.bureau.index import assess_enterprise, load_index_config
from analytics.bureau.indicators import Indicator
from analytics.bureau.region import build_region

PERIOD = "2026-10"


def enterprise(
    key: str, district: str | None, cloud: str | None, rng: random.Random | None = None, **kw
) -> EnterpriseFacts:
    """Facts with every indicator present unless ``rng`` blanks some at random."""
    rng = rng or random.Random(key)
    machines = rng.randint(5, 40)
    connected = rng.randint(0, machines)
    tags = machines * 5
    data = dict(
        enterprise_key=key,
        period=PERIOD,
        district=district,
        industry_cloud=cloud,
        machines_registered=machines,
        machines_connected=connected,
        tags_configured=tags,
        tags_reporting=rng.randint(0, tags),
        agent_uptime=round(rng.uniform(0.7, 1.0), 3),
        digital_control_machines=rng.randint(0, machines),
        modules_in_use=set(rng.sample(list(Module), rng.randint(1, 4))),
        oee=round(rng.uniform(0.3, 0.9), 3),
        energy_kwh=round(rng.uniform(1e4, 1e6), 1),
        output_units=float(rng.randint(1000, 100_000)),
        output_unit="part",
        output_value_10k_yuan=round(rng.uniform(10, 5000), 1),
        machines_under_model=rng.randint(0, machines),
        predictions_raised=(raised := rng.randint(1, 20)),
        predictions_acted_on=rng.randint(0, raised),
    )
    data.update(kw)
    return EnterpriseFacts(**data)


def measure_values(facts: list[EnterpriseFacts]) -> dict[str, dict[str, float]]:
    """measure -> enterprise key -> value, computed per enterprise (the secret data)."""
    config = load_index_config()
    out: dict[str, dict[str, float]] = {m: {} for m in MEASURES}
    for f in facts:
        assessed = assess_enterprise(f, config)
        if assessed.index.score is not None:
            out["index"][f.enterprise_key] = assessed.index.score
        for key in Indicator:
            value = assessed.indicators.value(key)
            if value is not None:
                out[key.value][f.enterprise_key] = value
    return out


def members_of(group: GroupAggregate, facts: list[EnterpriseFacts]) -> set[str]:
    """Who is in a published group, known to the test (the reader knows only the label)."""
    if group.dimension is Dimension.REGION:
        return {f.enterprise_key for f in facts}
    attr = "district" if group.dimension is Dimension.DISTRICT else "industry_cloud"
    labels = set(group.merged_groups) if group.group == OTHER_GROUP else {group.group}
    return {f.enterprise_key for f in facts if (getattr(f, attr) or UNASSIGNED_GROUP) in labels}


def published_rows(
    agg: BureauAggregates, facts: list[EnterpriseFacts], measure: str
) -> list[set[str]]:
    """The member sets whose sum of ``measure`` a reader can compute, checking on the way
    that every count and mean the aggregates publish is right."""
    values = measure_values(facts)[measure]
    p = agg.period(PERIOD)
    rows = []
    for g in (p.region, *p.districts, *p.industry_clouds):
        present = members_of(g, facts) & set(values)
        m = g.measure(measure)
        assert m.contributors == len(present), (g.group, measure)
        assert g.enterprises == len(members_of(g, facts))
        if m.status is MeasureStatus.PUBLISHED:
            assert len(present) >= agg.k, (g.group, measure)
            assert m.mean == pytest.approx(statistics.fmean(values[e] for e in present))
            rows.append(present)
        else:
            assert m.mean is None
    return rows


def disclosed(rows: list[set[str]], candidates: list[str], k: int) -> list[tuple[str, ...]]:
    """Sets of fewer than k candidates, and differences of two, that the rows reveal."""
    if not rows or not candidates:
        return []
    index = {e: i for i, e in enumerate(candidates)}
    matrix = np.zeros((len(rows), len(candidates)))
    for r, row in enumerate(rows):
        for e in row:
            matrix[r, index[e]] = 1.0
    projector = np.linalg.pinv(matrix) @ matrix  # onto the row space

    def in_row_space(vectors: np.ndarray) -> np.ndarray:
        return np.abs(vectors - vectors @ projector).max(axis=1) < 1e-8

    found: list[tuple[str, ...]] = []
    for size in range(1, min(k, len(candidates) + 1)):
        subsets = list(itertools.combinations(candidates, size))
        vectors = np.zeros((len(subsets), len(candidates)))
        for s, subset in enumerate(subsets):
            vectors[s, [index[e] for e in subset]] = 1.0
        found += [subsets[i] for i in np.flatnonzero(in_row_space(vectors))]
    pairs = list(itertools.combinations(candidates, 2))
    if pairs:
        vectors = np.zeros((len(pairs), len(candidates)))
        for s, (a, b) in enumerate(pairs):
            vectors[s, index[a]], vectors[s, index[b]] = 1.0, -1.0
        found += [("diff", *pairs[i]) for i in np.flatnonzero(in_row_space(vectors))]
    return found


def assert_nothing_disclosed(agg: BureauAggregates, facts: list[EnterpriseFacts]) -> None:
    values = measure_values(facts)
    for measure in MEASURES:
        rows = published_rows(agg, facts, measure)
        leaks = disclosed(rows, sorted(values[measure]), agg.k)
        assert not leaks, f"{measure}: the report reveals {leaks[:5]}"


# --- merging small groups ------------------------------------------------------------------


def test_group_of_four_is_merged_with_k_5_and_totals_do_not_reveal_it() -> None:
    facts = [enterprise(f"a{i}", "Alpha", "mold-cloud") for i in range(6)]
    facts += [enterprise(f"b{i}", "Beta", "mold-cloud") for i in range(7)]
    facts += [enterprise(f"c{i}", "Gamma", "mold-cloud") for i in range(4)]
    agg = aggregate(facts, k=5)
    districts = {g.group: g for g in agg.period(PERIOD).districts}
    # Gamma (4) is not shown; alone in (other) it would equal region − Alpha − Beta, so
    # the smallest other district (Alpha, 6) joins it.
    assert set(districts) == {"Beta", OTHER_GROUP}
    assert districts[OTHER_GROUP].merged_groups == ("Alpha", "Gamma")
    assert districts[OTHER_GROUP].enterprises == 10
    assert sum(g.enterprises for g in districts.values()) == agg.period(PERIOD).region.enterprises
    assert_nothing_disclosed(agg, facts)
    # Gamma's four enterprises are not recoverable: their sum is not in the row space.
    gamma = [f"c{i}" for i in range(4)]
    for measure in MEASURES:
        rows = published_rows(agg, facts, measure)
        present = sorted(measure_values(facts)[measure])
        assert tuple(gamma) not in disclosed(rows, present, 5)
    # With k = 4 Gamma is big enough to be shown on its own.
    agg4 = aggregate(facts, k=4)
    assert {g.group for g in agg4.period(PERIOD).districts} == {"Alpha", "Beta", "Gamma"}


def test_merge_small_groups_tops_other_up_to_k() -> None:
    groups = {
        "a": frozenset({1, 2}),
        "b": frozenset({3}),
        "c": frozenset(range(10, 16)),
        "d": frozenset(range(20, 27)),
    }
    merged = merge_small_groups(groups, 5)
    # a + b = 3 < 5: c (6, the smallest left) joins them.
    assert merged == {
        "d": (groups["d"], ()),
        OTHER_GROUP: (groups["a"] | groups["b"] | groups["c"], ("a", "b", "c")),
    }
    assert merge_small_groups({"a": frozenset(range(5))}, 5) == {"a": (frozenset(range(5)), ())}


def test_region_smaller_than_k_shows_counts_only() -> None:
    facts = [enterprise(f"e{i}", f"D{i % 2}", "mold-cloud") for i in range(4)]
    agg = aggregate(facts, k=5)
    p = agg.period(PERIOD)
    assert p.region.enterprises == 4
    for g in (p.region, *p.districts, *p.industry_clouds):
        assert g.level_counts is None
        for measure in MEASURES:
            assert g.measure(measure).status is MeasureStatus.SUPPRESSED
            assert g.measure(measure).mean is None
    assert [g.group for g in p.districts] == [OTHER_GROUP]


# --- linked tables ----------------------------------------------------------------------


def _zhenhai() -> list[EnterpriseFacts]:
    # Zhenhai holds 6 petrochemical enterprises; the 7th petrochemical one is in Beilun.
    facts = [enterprise(f"z{i}", "Zhenhai", "petrochem-cloud") for i in range(6)]
    facts += [enterprise("b-petro", "Beilun", "petrochem-cloud")]
    facts += [enterprise(f"b{i}", "Beilun", "mold-cloud") for i in range(6)]
    facts += [enterprise(f"y{i}", "Yuyao", "mold-cloud") for i in range(6)]
    return facts


def test_the_checker_sees_the_leak_of_publishing_every_group_of_k() -> None:
    facts = _zhenhai()
    everyone = sorted(f.enterprise_key for f in facts)
    zhenhai = {f"z{i}" for i in range(6)}
    petrochem = zhenhai | {"b-petro"}
    beilun = {"b-petro", *(f"b{i}" for i in range(6))}
    yuyao = {f"y{i}" for i in range(6)}
    mold = {f"b{i}" for i in range(6)} | yuyao
    # Every group has ≥ 5 members, yet petrochem − Zhenhai is one enterprise.
    naive = [set(everyone), zhenhai, beilun, yuyao, petrochem, mold]
    assert ("b-petro",) in disclosed(naive, everyone, 5)


def test_linked_tables_suppress_what_a_difference_would_reveal() -> None:
    facts = _zhenhai()
    agg = aggregate(facts, k=5)
    p = agg.period(PERIOD)
    statuses = {
        (g.dimension, g.group): g.measure("cloud_adoption").status
        for g in (*p.districts, *p.industry_clouds)
    }
    published = {key for key, status in statuses.items() if status is MeasureStatus.PUBLISHED}
    # Not both: petrochem − Zhenhai would be the Beilun petrochemical enterprise.
    assert (
        not {(Dimension.DISTRICT, "Zhenhai"), (Dimension.INDUSTRY_CLOUD, "petrochem-cloud")}
        <= published
    )
    assert p.region.measure("cloud_adoption").status is MeasureStatus.PUBLISHED
    assert_nothing_disclosed(agg, facts)


def test_protected_cells_on_a_hand_made_graph() -> None:
    cells = {
        Dimension.DISTRICT: {
            "Z": frozenset(range(6)),
            "B": frozenset(range(6, 13)),
            "Y": frozenset(range(13, 19)),
        },
        Dimension.INDUSTRY_CLOUD: {"petro": frozenset(range(7)), "mold": frozenset(range(7, 19))},
    }
    everyone = frozenset(range(19))
    hidden = protected_cells(cells, everyone, 5)
    # The cut {Z, petro} | {B, Y, mold} weighs 1 (enterprise 6, Beilun petro). Two
    # groups of one dimension on the two sides are suppressed together.
    assert hidden, "the cut of weight 1 must be broken"
    assert len({d for d, _ in hidden}) == 1 and len(hidden) == 2
    # With no Beilun petro enterprise present, the tables are not linked by a small cut.
    assert protected_cells(cells, everyone - {6}, 5) == set()


@pytest.mark.parametrize("seed", range(60))
def test_random_regions_never_disclose_a_small_set(seed: int) -> None:
    rng = random.Random(seed)
    k = rng.choice([3, 4, 5])
    districts = [f"D{i}" for i in range(rng.randint(2, 5))]
    clouds = [f"C{i}" for i in range(rng.randint(2, 4))]
    home = {d: rng.choice(clouds) for d in districts}  # districts lean to one industry
    facts = []
    for i in range(rng.randint(6, 18)):
        district = rng.choice([*districts, None]) if rng.random() < 0.1 else rng.choice(districts)
        cloud = home[district] if district and rng.random() < 0.7 else rng.choice(clouds)
        blanks = {}
        for name in ("oee", "energy_kwh", "output_value_10k_yuan", "agent_uptime"):
            if rng.random() < 0.35:
                blanks[name] = None
        if rng.random() < 0.3:
            blanks["output_unit"] = "t"
        facts.append(enterprise(f"e{i}", district, cloud, random.Random(f"{seed}-{i}"), **blanks))
    agg = aggregate(facts, k=k)
    # Something is published (at least 6 enterprises, k ≤ 5), so the check has rows.
    assert agg.period(PERIOD).region.measure("cloud_adoption").status is MeasureStatus.PUBLISHED
    assert_nothing_disclosed(agg, facts)


# --- what the outputs can hold ----------------------------------------------------------


OUTPUT_TYPES = (
    aggregation.BureauAggregates,
    aggregation.PeriodAggregates,
    aggregation.GroupAggregate,
    aggregation.MeasureAggregate,
    aggregation.TrendPoint,
)


def _field_names(types: Iterable[type]) -> set[str]:
    return {f.name for t in types for f in dataclasses.fields(t)}


def test_output_types_have_no_field_for_an_enterprise() -> None:
    # An explicit list: a new field must be added here on purpose, after thinking about it.
    assert _field_names(OUTPUT_TYPES) == {
        "k", "levels", "periods", "period", "region", "districts", "industry_clouds",
        "dimension", "group", "merged_groups", "enterprises", "index", "level_counts",
        "indicators", "mean", "contributors", "status", "unit",
    }  # fmt: skip
    # Every dataclass reachable from the outputs' annotations is one of them.
    seen: set[type] = set()

    def walk(tp: object) -> None:
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            if tp in seen:
                return
            seen.add(tp)
            for hint in typing.get_type_hints(tp, vars(aggregation)).values():
                walk(hint)
        for arg in typing.get_args(tp):
            walk(arg)

    walk(BureauAggregates)
    walk(aggregation.TrendPoint)  # what BureauAggregates.trend returns
    assert seen == set(OUTPUT_TYPES)


def test_no_enterprise_key_reaches_the_aggregates() -> None:
    facts = build_region(PERIOD)
    agg = aggregate(facts)
    text = json.dumps(dataclasses.asdict(agg), default=str)
    for key in {f.enterprise_key for f in facts}:
        assert key not in text
    # Nor any enterprise's raw energy figure.
    for f in facts:
        if f.energy_kwh is not None:
            assert str(f.energy_kwh) not in text


def test_k_below_two_and_duplicate_facts_are_refused() -> None:
    facts = [enterprise("x", "A", "C")]
    with pytest.raises(ValueError, match="k must be a whole number ≥ 2"):
        aggregate(facts, k=1)
    with pytest.raises(
        ValueError, match="two sets of facts for one enterprise in 2026-10"
    ) as caught:
        aggregate(facts * 2)
    assert "'x'" not in str(caught.value)

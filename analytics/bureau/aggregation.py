"""What the bureau may see: per-month means of the index and of each indicator by
district, by industry cloud and for the whole region, with small groups protected.

Privacy (README "Privacy rules" has the reasoning):

1. Groups. Per month and dimension, groups with fewer than ``k`` enterprises are merged
   into one ``(other)`` group; while ``(other)`` holds fewer than ``k``, the smallest
   remaining group joins it. Merged rather than suppressed so that every enterprise is
   still counted and the groups still add up to the region.
2. Values. A group's mean of a measure (the index or one indicator) is a sum over the
   enterprises that have a value (its contributors) divided by their count. Published
   sums of one month (districts, industry clouds, region) are linear equations in the
   enterprises' values, and the district and industry tables are linked through the
   region total: "petrochem cloud minus Zhenhai district" can isolate one enterprise
   even when every published group has ``k`` contributors. Such a leak exists exactly
   when the bipartite graph whose nodes are the published groups and whose edges are
   the district × industry crossings, weighted by contributors, has a cut lighter than
   ``k`` (proved in the README). So for each measure the groups are contracted (their
   values suppressed together, which reveals at most their sum) until every cut weighs
   ``k`` or more; then no combination of published numbers involves fewer than ``k``
   enterprises. ``networkx.stoer_wagner`` finds the minimum cut.

The output types have no field for an enterprise's key, name or values: only group
labels, counts of enterprises and means over at least ``k`` of them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import networkx as nx

from analytics.bureau.facts import EnterpriseFacts, check_period
from analytics.bureau.index import IndexConfig, IndexResult, composite_index, load_index_config
from analytics.bureau.indicators import (
    DEFINITIONS,
    EnterpriseIndicators,
    Indicator,
    compute_indicators,
)

DEFAULT_K = 5
OTHER_GROUP = "(other)"
UNASSIGNED_GROUP = "(unassigned)"
REGION_GROUP = "region"
INDEX_MEASURE = "index"
MEASURES: tuple[str, ...] = (INDEX_MEASURE, *(i.value for i in Indicator))


class Dimension(StrEnum):
    REGION = "region"
    DISTRICT = "district"
    INDUSTRY_CLOUD = "industry_cloud"


class MeasureStatus(StrEnum):
    PUBLISHED = "published"
    # Fewer than k contributors, or hidden with others so that no difference of published
    # numbers isolates fewer than k enterprises.
    SUPPRESSED = "suppressed"
    NO_DATA = "no_data"  # no enterprise of the group has a value
    # Energy per unit over enterprises that count output in different units.
    NOT_COMPARABLE = "not_comparable"


@dataclass(frozen=True)
class MeasureAggregate:
    mean: float | None  # None unless status is PUBLISHED
    contributors: int  # enterprises of the group with a value
    status: MeasureStatus
    unit: str


@dataclass(frozen=True)
class GroupAggregate:
    period: str
    dimension: Dimension
    group: str  # district, industry cloud key, OTHER_GROUP or REGION_GROUP
    merged_groups: tuple[str, ...]  # for OTHER_GROUP: the groups it holds
    enterprises: int
    index: MeasureAggregate
    # Enterprises per level (LevelSpec.key, every level listed); None unless the index
    # mean is published (the counts are sums of the same enterprises).
    level_counts: Mapping[str, int] | None
    indicators: Mapping[Indicator, MeasureAggregate]

    def measure(self, name: str) -> MeasureAggregate:
        """``index`` or an indicator key."""
        if name == INDEX_MEASURE:
            return self.index
        return self.indicators[Indicator(name)]


@dataclass(frozen=True)
class PeriodAggregates:
    period: str
    region: GroupAggregate
    districts: tuple[GroupAggregate, ...]
    industry_clouds: tuple[GroupAggregate, ...]

    def groups(self, dimension: Dimension | str) -> tuple[GroupAggregate, ...]:
        dimension = Dimension(dimension)
        if dimension is Dimension.REGION:
            return (self.region,)
        return self.districts if dimension is Dimension.DISTRICT else self.industry_clouds


@dataclass(frozen=True)
class TrendPoint:
    period: str
    mean: float | None
    contributors: int
    status: MeasureStatus


@dataclass(frozen=True)
class BureauAggregates:
    k: int
    levels: tuple[tuple[str, str], ...]  # (key, name) in increasing score
    periods: tuple[PeriodAggregates, ...]  # oldest first

    def period(self, period: str) -> PeriodAggregates:
        for p in self.periods:
            if p.period == period:
                return p
        have = ", ".join(p.period for p in self.periods) or "none"
        raise KeyError(f"no facts for period {period}; periods with facts: {have}")

    def group_labels(self, dimension: Dimension | str) -> list[str]:
        """Every group of ``dimension`` seen in any period, sorted, (other) last."""
        labels = {g.group for p in self.periods for g in p.groups(dimension)}
        return sorted(labels, key=_label_order)

    def trend(self, dimension: Dimension | str, group: str, measure: str) -> list[TrendPoint]:
        """``measure`` of one group month by month; a month without the group has
        status NO_DATA (the group was merged into (other) or had no enterprise)."""
        out = []
        for p in self.periods:
            found = next((g for g in p.groups(dimension) if g.group == group), None)
            if found is None:
                out.append(TrendPoint(p.period, None, 0, MeasureStatus.NO_DATA))
            else:
                m = found.measure(measure)
                out.append(TrendPoint(p.period, m.mean, m.contributors, m.status))
        return out


def _label_order(label: str) -> tuple[int, str]:
    return (label in (OTHER_GROUP, UNASSIGNED_GROUP), label)


def aggregate(
    facts: Iterable[EnterpriseFacts],
    *,
    k: int = DEFAULT_K,
    config: IndexConfig | None = None,
) -> BureauAggregates:
    """The bureau's view of ``facts`` (any number of enterprises and months)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be a whole number ≥ 2 (smallest group shown), not {k!r}")
    config = config or load_index_config()
    by_period: dict[str, dict[str, EnterpriseFacts]] = {}
    for f in facts:
        month = by_period.setdefault(f.period, {})
        if f.enterprise_key in month:
            # The key is not repeated in the message: errors may reach a bureau page.
            raise ValueError(f"two sets of facts for one enterprise in {f.period}")
        month[f.enterprise_key] = f
    periods = tuple(
        _aggregate_period(period, list(by_period[period].values()), k, config)
        for period in sorted(by_period)
    )
    levels = tuple((lv.key, lv.name) for lv in config.levels)
    return BureauAggregates(k=k, levels=levels, periods=periods)


@dataclass(frozen=True)
class _Assessed:
    """One enterprise inside ``_aggregate_period``; never returned."""

    district: str
    industry_cloud: str
    indicators: EnterpriseIndicators
    index: IndexResult


def _aggregate_period(
    period: str, facts: list[EnterpriseFacts], k: int, config: IndexConfig
) -> PeriodAggregates:
    check_period(period)
    # Enterprises become positions in this list: nothing below needs their keys.
    assessed = []
    for f in facts:
        indicators = compute_indicators(f)
        assessed.append(
            _Assessed(
                f.district or UNASSIGNED_GROUP,
                f.industry_cloud or UNASSIGNED_GROUP,
                indicators,
                composite_index(indicators, config),
            )
        )
    everyone = frozenset(range(len(assessed)))
    cells: dict[Dimension, dict[str, tuple[frozenset[int], tuple[str, ...]]]] = {}
    for dim, attr in (
        (Dimension.DISTRICT, "district"),
        (Dimension.INDUSTRY_CLOUD, "industry_cloud"),
    ):
        groups: dict[str, set[int]] = {}
        for i, a in enumerate(assessed):
            groups.setdefault(getattr(a, attr), set()).add(i)
        cells[dim] = merge_small_groups({g: frozenset(m) for g, m in groups.items()}, k)

    values: dict[str, dict[int, float]] = {
        INDEX_MEASURE: {
            i: a.index.score for i, a in enumerate(assessed) if a.index.score is not None
        }
    }
    for key in Indicator:
        values[key.value] = {
            i: v for i, a in enumerate(assessed) if (v := a.indicators.value(key)) is not None
        }
    hidden: dict[str, set[tuple[Dimension, str]]] = {}
    region_ok: dict[str, bool] = {}
    partition = {dim: {g: m for g, (m, _) in groups.items()} for dim, groups in cells.items()}
    for measure, by_enterprise in values.items():
        present = frozenset(by_enterprise)
        if measure == Indicator.ENERGY_PER_UNIT.value:
            # Only a group whose enterprises share one output unit shows a mean, and its
            # sum is then a sum over that unit's enterprises alone: each unit is its own
            # set of equations, protected on its own.
            hidden[measure] = set()
            for unit in {assessed[i].indicators.output_unit for i in present}:
                of_unit = frozenset(
                    i for i in present if assessed[i].indicators.output_unit == unit
                )
                hidden[measure] |= protected_cells(partition, of_unit, k)
        else:
            hidden[measure] = protected_cells(partition, present, k)
        region_ok[measure] = len(present) >= k

    def group(dim: Dimension, label: str, members: frozenset[int], merged: tuple[str, ...]):
        def measure(name: str) -> MeasureAggregate:
            present = [i for i in sorted(members) if i in values[name]]
            shown = region_ok[name] if dim is Dimension.REGION else (dim, label) not in hidden[name]
            units = [assessed[i].indicators.output_unit for i in present]
            return _measure(name, [values[name][i] for i in present], units, shown)

        index = measure(INDEX_MEASURE)
        level_counts = None
        if index.status is MeasureStatus.PUBLISHED:
            level_counts = {lv.key: 0 for lv in config.levels}
            for i in members:
                if assessed[i].index.level is not None:
                    level_counts[assessed[i].index.level] += 1
        return GroupAggregate(
            period=period,
            dimension=dim,
            group=label,
            merged_groups=merged,
            enterprises=len(members),
            index=index,
            level_counts=level_counts,
            indicators={key: measure(key.value) for key in Indicator},
        )

    def table(dim: Dimension) -> tuple[GroupAggregate, ...]:
        return tuple(
            group(dim, label, members, merged)
            for label, (members, merged) in sorted(
                cells[dim].items(), key=lambda x: _label_order(x[0])
            )
        )

    return PeriodAggregates(
        period=period,
        region=group(Dimension.REGION, REGION_GROUP, everyone, ()),
        districts=table(Dimension.DISTRICT),
        industry_clouds=table(Dimension.INDUSTRY_CLOUD),
    )


def _measure(
    name: str, vals: list[float], units: list[str | None], shown: bool
) -> MeasureAggregate:
    unit = "points" if name == INDEX_MEASURE else DEFINITIONS[Indicator(name)].unit
    if not vals:
        return MeasureAggregate(None, 0, MeasureStatus.NO_DATA, unit)
    if name == Indicator.ENERGY_PER_UNIT.value:
        # Mixed units say only that the group mixes industries: shown before suppression.
        if len(set(units)) != 1:
            return MeasureAggregate(None, len(vals), MeasureStatus.NOT_COMPARABLE, unit)
        unit = f"kWh/{units[0]}"
    if not shown:
        return MeasureAggregate(None, len(vals), MeasureStatus.SUPPRESSED, unit)
    return MeasureAggregate(statistics.fmean(vals), len(vals), MeasureStatus.PUBLISHED, unit)


def merge_small_groups(
    groups: Mapping[str, frozenset[int]], k: int
) -> dict[str, tuple[frozenset[int], tuple[str, ...]]]:
    """Groups with fewer than ``k`` members merged into OTHER_GROUP, topped up with the
    smallest other groups until it has ``k``: label -> (members, groups merged into it)."""
    small = sorted(label for label, m in groups.items() if len(m) < k)
    if not small:
        return {label: (m, ()) for label, m in groups.items()}
    rest = sorted((lb for lb in groups if lb not in small), key=lambda lb: (len(groups[lb]), lb))
    merged = list(small)
    members = frozenset().union(*(groups[lb] for lb in small))
    while len(members) < k and rest:
        label = rest.pop(0)
        merged.append(label)
        members |= groups[label]
    out = {label: (groups[label], ()) for label in rest}
    out[OTHER_GROUP] = (members, tuple(sorted(merged)))
    return out


_Node = tuple[Dimension, frozenset[str]]


def protected_cells(
    cells: Mapping[Dimension, Mapping[str, frozenset[int]]], present: frozenset[int], k: int
) -> set[tuple[Dimension, str]]:
    """The (dimension, group) cells whose mean must be suppressed so that no linear
    combination of the published sums (both tables and the region total) involves fewer
    than ``k`` of the ``present`` enterprises.

    ``cells`` holds exactly two dimensions, each a partition of the enterprises.
    Contracts groups within a dimension (suppressing them together) while the weighted
    district × industry graph has a cut lighter than ``k``; when a component cannot be
    split any more it is joined to another one, and when the whole graph is lighter than
    ``k`` everything is suppressed (and the region total is then below ``k`` too).
    """
    dims = list(cells)
    if len(dims) != 2:
        raise ValueError(f"expected two dimensions, got {dims}")
    first, second = dims
    blocks: dict[Dimension, list[frozenset[str]]] = {
        d: [frozenset([label]) for label in sorted(cells[d])] for d in dims
    }

    def members(node: _Node) -> frozenset[int]:
        d, block = node
        return frozenset().union(*(cells[d][label] for label in block)) & present

    def order(node: _Node) -> tuple[str, tuple[str, ...]]:
        return (node[0].value, tuple(sorted(node[1])))

    def cost(node: _Node) -> int:
        # Suppressing a block that is already suppressed loses nothing more.
        return 0 if len(node[1]) > 1 else len(members(node))

    def everything() -> set[tuple[Dimension, str]]:
        return {(d, label) for d in dims for label in cells[d] if cells[d][label] & present}

    while True:
        graph = nx.Graph()
        for a in blocks[first]:
            ma = members((first, a))
            for b in blocks[second]:
                weight = len(ma & members((second, b)))
                if weight:
                    graph.add_edge((first, a), (second, b), weight=weight)
        components = sorted(
            (sorted(c, key=order) for c in nx.connected_components(graph)),
            key=lambda c: (sum(len(members(n)) for n in c if n[0] is first), [order(n) for n in c]),
        )
        violation = None
        for component in components:
            sub = nx.Graph()  # built in a fixed order so the cut found does not vary by run
            sub.add_nodes_from(component)
            sub.add_edges_from(
                sorted(
                    graph.subgraph(component).edges(data=True),
                    key=lambda e: (order(e[0]), order(e[1])),
                )
            )
            cut, (side_a, side_b) = nx.stoer_wagner(sub)
            if cut < k:
                violation = (component, set(side_a), set(side_b))
                break
        if violation is None:
            break
        component, side_a, side_b = violation
        options = []
        for rank, d in enumerate(dims):
            a_nodes = sorted((n for n in side_a if n[0] is d), key=lambda n: (cost(n), order(n)))
            b_nodes = sorted((n for n in side_b if n[0] is d), key=lambda n: (cost(n), order(n)))
            if a_nodes and b_nodes:
                options.append((cost(a_nodes[0]) + cost(b_nodes[0]), rank, a_nodes[0], b_nodes[0]))
        if options:
            _, _, x, y = min(options, key=lambda o: (o[0], o[1], order(o[2]), order(o[3])))
        else:
            # The cut separates the component's districts from its industries: the whole
            # component is lighter than k. Join it to the lightest other component.
            others = [c for c in components if c is not component]
            if not others:
                return everything()
            x = min((n for n in component if n[0] is first), key=lambda n: (cost(n), order(n)))
            y = min((n for n in others[0] if n[0] is first), key=lambda n: (cost(n), order(n)))
        d = x[0]
        blocks[d].remove(x[1])
        blocks[d].remove(y[1])
        blocks[d].append(x[1] | y[1])
    return {(d, label) for d in dims for block in blocks[d] if len(block) > 1 for label in block}

"""The economic bureau's API and page: the region's digitalization and energy figures by
district and industry cloud, their trends, and the monthly reports.

Only TenantScope's ``can_read_region_aggregates`` callers (the bureau analyst, the
platform admin) get an answer; everyone else 403 (401 without a session). Every figure comes out of
``analytics.bureau.aggregation``: groups of at least k enterprises, means that no
combination of published numbers narrows to fewer than k, and never an enterprise's key,
name or series. The facts behind them are the ones stored each month by the
``bureau_report`` jobs; ``source=synthetic`` shows the synthetic region instead, marked as
such in every answer.

Also here, on the enterprise's side: ``/api/tenants/{key}/bureau/output/{period}``, where
a tenant admin files the month's output value (and output the platform cannot count).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import OrderedDict
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.bureau.aggregation import (
    DEFAULT_K,
    MEASURES,
    BureauAggregates,
    Dimension,
    GroupAggregate,
    MeasureAggregate,
    MeasureStatus,
    aggregate,
)
from analytics.bureau.facts import check_period, previous_periods
from analytics.bureau.index import load_index_config
from analytics.bureau.indicators import DEFINITIONS, Indicator
from analytics.bureau.platform_facts import BUREAU_TIMEZONE, month_range
from analytics.bureau.region import DEFAULT_SEED, build_region
from analytics.bureau.report import (
    csv_text,
    energy_intensity_figure,
    group_rows,
    index_by_group_figure,
    index_trend_figure,
    level_distribution_figure,
)
from analytics.bureau.report_job import create_run_jobs, send_run
from analytics.bureau.report_runs import ReportRun, latest_done, recent_runs, run_progress
from analytics.bureau.reported_output import (
    OutputReport,
    ReportedOutputError,
    reported_output,
    set_reported_output,
)
from analytics.bureau.stored_facts import facts_periods, facts_version, load_facts
from cloud.bureau_labels import BureauLabels, translate_figure_word
from cloud.i18n import LANG_COOKIE, normalize_lang, request_lang
from cloud.principals import Caller, DbSession, Scope
from jobs.celery_app import JobQueueUnavailable
from tenants.models import AuditEvent, Tenant
from tenants.scope import Principal, TenantScope

router = APIRouter(tags=["bureau"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

# The bureau may ask for larger groups, never smaller than the platform's rule.
MIN_K = DEFAULT_K
MAX_K = 1000
DEFAULT_MONTHS = 12
MAX_MONTHS = 36
CACHE_ENTRIES = 32


class Source(StrEnum):
    PLATFORM = "platform"  # the enterprises' stored monthly facts
    SYNTHETIC = "synthetic"  # analytics/bureau/region.py: no real enterprise


class GroupDimension(StrEnum):
    DISTRICT = "district"
    INDUSTRY_CLOUD = "industry_cloud"


class TrendDimension(StrEnum):
    REGION = "region"
    DISTRICT = "district"
    INDUSTRY_CLOUD = "industry_cloud"


Measure = StrEnum("Measure", {m: m for m in MEASURES})  # type: ignore[misc]
INDEX_MEASURE = Measure("index")


def bureau_reader(caller: Caller, scope: Scope) -> Principal:
    """The caller, when TenantScope lets it see the region's figures; else 403."""
    if caller.is_agent or not scope.can_read_region_aggregates():
        raise HTTPException(
            403, "only the economic bureau's analysts and platform admins see the region's figures"
        )
    return caller


Bureau = Annotated[Principal, Depends(bureau_reader)]
PeriodQuery = Annotated[
    str | None, Query(description="Month, YYYY-MM; default: the latest month with facts.")
]
KQuery = Annotated[int, Query(ge=MIN_K, le=MAX_K, description="Smallest group shown (at least 5).")]
SourceQuery = Annotated[Source, Query(description="platform, or the synthetic region.")]


def _refuse(loc: tuple[str, ...], message: str, value: object) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": loc, "msg": message, "type": "value_error", "input": value}]
    )


def _now_period() -> str:
    return datetime.now(ZoneInfo(BUREAU_TIMEZONE)).strftime("%Y-%m")


def chosen_period(session: Session, period: str | None, source: Source) -> str:
    """The month asked for (checked), or the latest with facts (the current month for the
    synthetic region, and when nothing is stored yet)."""
    if period is not None:
        try:
            return check_period(period)
        except ValueError as exc:
            raise _refuse(("query", "period"), str(exc), period) from None
    if source is Source.SYNTHETIC:
        return _now_period()
    stored = facts_periods(session)
    return stored[-1] if stored else _now_period()


class _AggregatesCache:
    """Aggregates by (source, months, k, version of the facts): the min-cut protection runs
    per measure and month, and a page asks for the same figures several times."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, BureauAggregates] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, build) -> BureauAggregates:  # type: ignore[no-untyped-def]
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = build()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > CACHE_ENTRIES:
                self._entries.popitem(last=False)
        return value


def _cache(request: Request) -> _AggregatesCache:
    state = request.app.state
    cache = getattr(state, "bureau_aggregates", None)
    if cache is None:
        cache = state.bureau_aggregates = _AggregatesCache()
    return cache


def region_aggregates(
    request: Request, session: Session, period: str, k: int, months: int, source: Source
) -> BureauAggregates:
    periods = previous_periods(period, months)
    config = load_index_config()
    if source is Source.SYNTHETIC:
        return _cache(request).get(
            ("synthetic", period, months, k),
            lambda: aggregate(build_region(period, months=months), k=k, config=config),
        )
    version = facts_version(session, periods)
    return _cache(request).get(
        ("platform", period, months, k, version),
        lambda: aggregate(load_facts(session, periods), k=k, config=config),
    )


# --- answers -------------------------------------------------------------------------


class MeasureOut(BaseModel):
    mean: float | None = Field(description="None unless status is published.")
    contributors: int = Field(description="Enterprises of the group with a value.")
    status: MeasureStatus
    unit: str


class IndicatorOut(MeasureOut):
    key: str
    name: str
    name_zh: str
    definition: str


class LevelOut(BaseModel):
    key: str
    name: str


class GroupOut(BaseModel):
    dimension: str
    group: str
    merged_groups: list[str] = Field(description="For (other): the groups merged into it.")
    enterprises: int
    index: MeasureOut
    level_counts: dict[str, int] | None = Field(description="Only with a published index.")
    indicators: dict[str, MeasureOut]


class IndicatorsOut(BaseModel):
    source: Source
    period: str
    k: int
    enterprises: int
    levels: list[LevelOut]
    index: MeasureOut
    level_counts: dict[str, int] | None
    indicators: list[IndicatorOut]


class GroupsOut(BaseModel):
    source: Source
    period: str
    k: int
    dimension: GroupDimension
    groups: list[GroupOut]


class TrendPointOut(BaseModel):
    period: str
    mean: float | None
    contributors: int
    status: MeasureStatus


class TrendSeriesOut(BaseModel):
    group: str
    points: list[TrendPointOut]


class TrendsOut(BaseModel):
    source: Source
    dimension: TrendDimension
    measure: str
    unit: str
    k: int
    periods: list[str]
    series: list[TrendSeriesOut]


def _mean(m: MeasureAggregate, name: str) -> float | None:
    if m.mean is None:
        return None
    return round(m.mean, 1 if name == "index" else 2)


def _measure(m: MeasureAggregate, name: str) -> MeasureOut:
    return MeasureOut(
        mean=_mean(m, name), contributors=m.contributors, status=m.status, unit=m.unit
    )


def _group(g: GroupAggregate) -> GroupOut:
    return GroupOut(
        dimension=g.dimension.value,
        group=g.group,
        merged_groups=list(g.merged_groups),
        enterprises=g.enterprises,
        index=_measure(g.index, "index"),
        level_counts=dict(g.level_counts) if g.level_counts is not None else None,
        indicators={key.value: _measure(m, key.value) for key, m in g.indicators.items()},
    )


def _period_aggregates(aggregates: BureauAggregates, period: str):  # type: ignore[no-untyped-def]
    try:
        return aggregates.period(period)
    except KeyError:
        return None


@router.get("/api/bureau/indicators", response_model=IndicatorsOut)
def indicators(
    request: Request,
    session: DbSession,
    caller: Bureau,
    period: PeriodQuery = None,
    k: KQuery = DEFAULT_K,
    source: SourceQuery = Source.PLATFORM,
) -> IndicatorsOut:
    """The region's index, level counts and every indicator of one month, with their
    definitions."""
    chosen = chosen_period(session, period, source)
    aggregates = region_aggregates(request, session, chosen, k, 1, source)
    month = _period_aggregates(aggregates, chosen)
    if month is None:
        raise HTTPException(404, f"no enterprise's facts for {chosen}: start a report of it")
    region = month.region
    return IndicatorsOut(
        source=source,
        period=chosen,
        k=k,
        enterprises=region.enterprises,
        levels=[LevelOut(key=key, name=name) for key, name in aggregates.levels],
        index=_measure(region.index, "index"),
        level_counts=dict(region.level_counts) if region.level_counts is not None else None,
        indicators=[
            IndicatorOut(
                key=key.value,
                name=DEFINITIONS[key].name,
                name_zh=DEFINITIONS[key].name_zh,
                definition=DEFINITIONS[key].definition,
                **_measure(m, key.value).model_dump(),
            )
            for key, m in region.indicators.items()
        ],
    )


@router.get("/api/bureau/groups", response_model=GroupsOut)
def groups(
    request: Request,
    session: DbSession,
    caller: Bureau,
    dimension: Annotated[GroupDimension, Query(description="district or industry_cloud")],
    period: PeriodQuery = None,
    k: KQuery = DEFAULT_K,
    source: SourceQuery = Source.PLATFORM,
) -> GroupsOut:
    """Each district's (or industry cloud's) figures of one month; small groups merged."""
    chosen = chosen_period(session, period, source)
    aggregates = region_aggregates(request, session, chosen, k, 1, source)
    month = _period_aggregates(aggregates, chosen)
    if month is None:
        raise HTTPException(404, f"no enterprise's facts for {chosen}: start a report of it")
    return GroupsOut(
        source=source,
        period=chosen,
        k=k,
        dimension=dimension,
        groups=[_group(g) for g in month.groups(Dimension(dimension.value))],
    )


@router.get("/api/bureau/trends", response_model=TrendsOut)
def trends(
    request: Request,
    session: DbSession,
    caller: Bureau,
    dimension: Annotated[TrendDimension, Query()] = TrendDimension.REGION,
    measure: Annotated[Measure, Query(description="index or an indicator key")] = INDEX_MEASURE,  # type: ignore[valid-type]
    group: Annotated[str | None, Query(max_length=200, description="One group only.")] = None,
    period: PeriodQuery = None,
    months: Annotated[int, Query(ge=1, le=MAX_MONTHS)] = DEFAULT_MONTHS,
    k: KQuery = DEFAULT_K,
    source: SourceQuery = Source.PLATFORM,
) -> TrendsOut:
    """A measure month by month for the region or every group of a dimension (or one)."""
    chosen = chosen_period(session, period, source)
    aggregates = region_aggregates(request, session, chosen, k, months, source)
    name = str(measure.value)
    labels = aggregates.group_labels(dimension.value)
    if group is not None:
        if group not in labels:
            raise _refuse(("query", "group"), f"no group {group!r}; there are: {labels}", group)
        labels = [group]
    unit = "points" if name == "index" else DEFINITIONS[Indicator(name)].unit
    return TrendsOut(
        source=source,
        dimension=dimension,
        measure=name,
        unit=unit,
        k=k,
        periods=[p.period for p in aggregates.periods],
        series=[
            TrendSeriesOut(
                group=label,
                points=[
                    TrendPointOut(
                        period=t.period,
                        mean=None if t.mean is None else round(t.mean, 2),
                        contributors=t.contributors,
                        status=t.status,
                    )
                    for t in aggregates.trend(dimension.value, label, name)
                ],
            )
            for label in labels
        ],
    )


@router.get("/api/bureau/export.csv", response_class=Response)
def export_csv(
    request: Request,
    session: DbSession,
    caller: Bureau,
    period: PeriodQuery = None,
    k: KQuery = DEFAULT_K,
    source: SourceQuery = Source.PLATFORM,
) -> Response:
    """The month's groups (region, districts, industry clouds) as CSV, as shown now."""
    chosen = chosen_period(session, period, source)
    aggregates = region_aggregates(request, session, chosen, k, 1, source)
    if _period_aggregates(aggregates, chosen) is None:
        raise HTTPException(404, f"no enterprise's facts for {chosen}: start a report of it")
    text = csv_text(group_rows(aggregates, chosen))
    name = f"bureau-{chosen}-{source.value}-groups.csv"
    return Response(
        "\ufeff" + text,  # spreadsheets on Chinese Windows need the BOM
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- reports ---------------------------------------------------------------------------


class ReportIn(BaseModel):
    period: str = Field(examples=["2026-10"], description="Month, YYYY-MM; begun already.")
    k: int = Field(DEFAULT_K, ge=MIN_K, le=MAX_K)
    pdf: bool = Field(True, description="Also print a PDF (needs Chromium on the worker).")


class ReportRunOut(BaseModel):
    id: int
    period: str
    k: int
    state: str
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    expected: int = Field(description="Enterprises whose facts the run gathers.")
    done: int
    failed: int
    enterprises: int | None = Field(description="With facts in the month, once written.")
    error: str | None
    pdf_error: str | None
    files: dict[str, str] = Field(description="Download paths, once written.")


def report_files(period: str, has_pdf: bool) -> dict[str, str]:
    files = {
        "csv": f"/api/bureau/reports/{period}.csv",
        "trends_csv": f"/api/bureau/reports/{period}-trends.csv",
        "html": f"/api/bureau/reports/{period}.html",
    }
    if has_pdf:
        files["pdf"] = f"/api/bureau/reports/{period}.pdf"
    return files


def _has_pdf(session: Session, run_id: int) -> bool:
    # Asked of the database: loading the deferred column would fetch the whole file.
    return bool(session.scalar(select(ReportRun.pdf.is_not(None)).where(ReportRun.id == run_id)))


def _run_out(session: Session, run: ReportRun) -> ReportRunOut:
    progress = run_progress(session, run)
    done = run.state == "done"
    return ReportRunOut(
        id=run.id,
        period=run.period,
        k=run.k,
        state=run.state,
        requested_by=run.requested_by,
        created_at=run.created_at,
        finished_at=run.finished_at,
        expected=progress.expected,
        done=progress.done,
        failed=progress.failed,
        enterprises=run.enterprises,
        error=run.error,
        pdf_error=run.pdf_error,
        files=report_files(run.period, _has_pdf(session, run.id)) if done else {},
    )


@router.get("/api/bureau/reports", response_model=list[ReportRunOut])
def list_reports(
    session: DbSession,
    caller: Bureau,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ReportRunOut]:
    """The report runs, newest first, with how far each is."""
    return [_run_out(session, run) for run in recent_runs(session, limit)]


@router.post("/api/bureau/reports", response_model=ReportRunOut, status_code=202)
def start_report(
    body: ReportIn, request: Request, session: DbSession, caller: Bureau
) -> ReportRunOut:
    """Start the report of a month: one job per enterprise gathers its facts; the last
    writes the report, downloadable at ``/api/bureau/reports/PERIOD.html`` (and .csv,
    -trends.csv, .pdf)."""
    try:
        check_period(body.period)
        month_range(body.period)
    except ValueError as exc:
        raise _refuse(("body", "period"), str(exc), body.period) from None
    jobs = request.app.state.jobs
    try:
        started = create_run_jobs(
            session, jobs.catalog, body.period, body.k, caller.name, pdf=body.pdf
        )
    except ValueError as exc:  # no enterprise on the platform
        raise HTTPException(409, str(exc)) from None
    session.add(
        AuditEvent(
            actor=caller.name,
            action="bureau.report.start",
            detail={"period": body.period, "k": body.k, "run": started.key},
        )
    )
    session.commit()  # before sending: a quick worker must find the rows
    try:
        send_run(jobs, request.app.state.sessions, started)
    except JobQueueUnavailable as exc:
        raise HTTPException(503, str(exc), {"Retry-After": "10"}) from None
    run = session.get(ReportRun, started.run_id)
    assert run is not None
    session.refresh(run)
    return _run_out(session, run)


def _stored_report(session: Session, period: str) -> ReportRun:
    try:
        check_period(period)
    except ValueError as exc:
        raise _refuse(("path", "period"), str(exc), period) from None
    run = latest_done(session, period)
    if run is None:
        raise HTTPException(404, f"no report of {period} has been written yet")
    return run


def _download(content: str | bytes, media_type: str, name: str, inline: bool = False) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


# The trends route first: "{period}.csv" would also match "2026-10-trends.csv".
@router.get("/api/bureau/reports/{period}-trends.csv", response_class=Response)
def report_trends_csv(period: str, session: DbSession, caller: Bureau) -> Response:
    run = _stored_report(session, period)
    return _download("\ufeff" + (run.trends_csv or ""), "text/csv; charset=utf-8",
                     f"bureau-{period}-trends.csv")  # fmt: skip


@router.get("/api/bureau/reports/{period}.csv", response_class=Response)
def report_groups_csv(period: str, session: DbSession, caller: Bureau) -> Response:
    run = _stored_report(session, period)
    return _download("\ufeff" + (run.groups_csv or ""), "text/csv; charset=utf-8",
                     f"bureau-{period}-groups.csv")  # fmt: skip


@router.get("/api/bureau/reports/{period}.html", response_class=HTMLResponse)
def report_html(period: str, session: DbSession, caller: Bureau) -> Response:
    run = _stored_report(session, period)
    return _download(run.html or "", "text/html; charset=utf-8", f"bureau-{period}.html", True)


@router.get("/api/bureau/reports/{period}.pdf", response_class=Response)
def report_pdf(period: str, session: DbSession, caller: Bureau) -> Response:
    run = _stored_report(session, period)
    if run.pdf is None:
        why = run.pdf_error or "the report was written without a PDF"
        raise HTTPException(404, f"no PDF of the {period} report: {why}")
    return _download(run.pdf, "application/pdf", f"bureau-{period}.pdf")


# --- the enterprise's reported output --------------------------------------------------


class OutputIn(BaseModel):
    output_value_10k_yuan: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Gross output value, 10,000 yuan."
    )
    output_quantity: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="Output the platform cannot count (t)."
    )
    output_unit: str | None = Field(None, min_length=1, max_length=20, examples=["t"])


class OutputOut(OutputIn):
    period: str


def _tenant(session: Session, scope: TenantScope, key: str, manage: bool) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.key == key))
    # One answer for "no such tenant" and "not yours": tenant keys are not probed.
    if tenant is None or not scope.can_read_raw(tenant.id):
        raise HTTPException(404, f"no tenant {key!r} whose figures you may see")
    if manage and not scope.can_manage(tenant.id):
        raise HTTPException(403, "only the enterprise's tenant admin files its output")
    return tenant


def _output_period(period: str) -> str:
    try:
        return check_period(period)
    except ValueError as exc:
        raise _refuse(("path", "period"), str(exc), period) from None


@router.get("/api/tenants/{key}/bureau/output/{period}", response_model=OutputOut)
def get_output(key: str, period: str, session: DbSession, scope: Scope) -> OutputOut:
    """What the enterprise filed for the month (404 when nothing)."""
    tenant = _tenant(session, scope, key, manage=False)
    found = reported_output(session, tenant.id, _output_period(period))
    if found is None:
        raise HTTPException(404, f"nothing filed for {period}")
    return OutputOut(period=period, **dataclasses.asdict(found))


@router.put("/api/tenants/{key}/bureau/output/{period}", response_model=OutputOut)
def put_output(
    key: str, period: str, body: OutputIn, session: DbSession, scope: Scope, caller: Caller
) -> OutputOut:
    """File the month's output value (and output in its unit, when no counter counts it);
    the bureau sees it only inside group means, as energy per 10,000 yuan and per unit."""
    tenant = _tenant(session, scope, key, manage=True)
    chosen = _output_period(period)
    report = OutputReport(body.output_value_10k_yuan, body.output_quantity, body.output_unit)
    try:
        set_reported_output(session, tenant.id, chosen, report, caller.name)
    except ReportedOutputError as exc:
        raise _refuse(("body", exc.field), exc.message, getattr(body, exc.field, None)) from None
    return OutputOut(period=chosen, **dataclasses.asdict(report))


# --- the page ---------------------------------------------------------------------------


def _figures(aggregates: BureauAggregates, period: str, t: BureauLabels) -> dict[str, go.Figure]:
    config = load_index_config()
    figures = {
        "by-district": index_by_group_figure(aggregates, period, Dimension.DISTRICT, config),
        "by-industry": index_by_group_figure(aggregates, period, Dimension.INDUSTRY_CLOUD, config),
        "trend": index_trend_figure(aggregates, period),
        "levels": level_distribution_figure(aggregates, period),
        "energy": energy_intensity_figure(aggregates, period),
    }
    titles = {
        "by-district": ("by_district", "index_axis"),
        "by-industry": ("by_industry", "index_axis"),
        "trend": ("trend", "index_axis"),
        "levels": ("levels", "level_axis"),
        "energy": ("energy", None),
    }
    for key, (title, axis) in titles.items():
        figure = figures[key]
        # The page's cards are responsive; the report's fixed A4 sizes are not wanted here.
        figure.update_layout(title=f"{t(title)}, {period}", width=None, autosize=True)
        if key == "trend":  # two panels, each with its own axis
            figure.update_yaxes(title_text=t("index"))
        elif axis:
            figure.update_layout(yaxis_title=t(axis))
        if t.lang != "en":
            _translate(figure, t)
    return figures


def _translate(figure: go.Figure, t: BureauLabels) -> None:
    """The words the report's charts carry, in the page's language."""
    for trace in figure.data:
        if isinstance(trace.name, str):
            trace.name = translate_figure_word(trace.name, t.lang)
        if trace.text is not None and not isinstance(trace.text, str):
            trace.text = [translate_figure_word(x, t.lang) for x in trace.text]
        if trace.type == "bar" and trace.x is not None:  # the "region" bar of the levels
            trace.x = [translate_figure_word(x, t.lang) for x in trace.x]
    for annotation in figure.layout.annotations:
        annotation.text = translate_figure_word(annotation.text, t.lang)


def _format(m: MeasureAggregate, t: BureauLabels, digits: int = 1) -> str:
    if m.mean is not None:
        return f"{m.mean:,.{digits}f}"
    return t(m.status.value) if m.status is not MeasureStatus.PUBLISHED else "–"


@router.get("/bureau", response_class=HTMLResponse, include_in_schema=False)
def bureau_page(
    request: Request,
    session: DbSession,
    caller: Bureau,
    period: str | None = None,
    source: Source = Source.PLATFORM,
) -> Response:
    lang = request_lang(request)
    t = BureauLabels(lang)
    chosen = chosen_period(session, period, source)
    k = DEFAULT_K
    aggregates = region_aggregates(request, session, chosen, k, DEFAULT_MONTHS, source)
    month = _period_aggregates(aggregates, chosen)
    figures = _figures(aggregates, chosen, t) if month is not None else {}
    stored = facts_periods(session)
    periods = sorted({*stored, chosen, _now_period()}, reverse=True)
    region = build_region(chosen, months=1) if source is Source.SYNTHETIC else None
    runs = [_run_out(session, run) for run in recent_runs(session, 12)]
    latest = latest_done(session, chosen) if source is Source.PLATFORM else None
    context = {
        "t": t,
        "lang": lang,
        "other_lang": "en" if lang == "zh" else "zh",
        "who": caller.name,
        "period": chosen,
        "periods": periods,
        "source": source.value,
        "k": k,
        "month": month,
        "synthetic_count": len(region) if region is not None else 0,
        "seed": DEFAULT_SEED,
        "too_few": month is not None and month.region.enterprises < k,
        "indicators": [DEFINITIONS[key] for key in Indicator],
        "fmt": lambda m, digits=1: _format(m, t, digits),
        "figures_json": json.dumps(
            {fid: json.loads(fig.to_json()) for fid, fig in figures.items()}
        ).replace("</", "<\\/"),
        "runs": runs,
        "latest_files": report_files(chosen, _has_pdf(session, latest.id)) if latest else None,
        "can_start": source is Source.PLATFORM,
    }
    response = templates.TemplateResponse(request, "bureau.html", context)
    chosen_lang = normalize_lang(request.query_params.get("lang"))
    if chosen_lang:
        response.set_cookie(LANG_COOKIE, chosen_lang, max_age=365 * 86400, samesite="lax")
    return response

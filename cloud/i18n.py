"""Every label of the plant manager's pages in English and Chinese, and which language a
request wants.

A message catalog of plain dicts: the pages have a few hundred words, not enough to
justify gettext's tooling. A missing Chinese entry falls back to the English one, and a
test checks that both catalogs have the same keys, so a label cannot be forgotten.

The language is ``?lang=zh|en`` (remembered in a cookie), else the cookie, else the
browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from fastapi import Request

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
LANG_COOKIE = "mz_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # navigation and page titles
        "app": "Mingzhou",
        "overview": "Site overview",
        "line": "Line",
        "lines": "Lines",
        "asset": "Machine",
        "energy": "Energy",
        "live_view": "Live view",
        "agents": "Edge agents",
        "sign_out": "Sign out",
        "wall": "Wall screen",
        "exit_wall": "Leave wall screen",
        "switch_lang": "中文",
        "site": "Site",
        "no_model": "This site has no machine with a state tag in the asset model yet: onboard"
        " machines (POST /api/tenants/{key}/assets) to see their OEE here.",
        "no_sites": "This enterprise has no site in its asset model yet.",
        "no_site": "No such site in this enterprise's asset model.",
        # time range picker
        "range": "Range",
        "range_hour": "Last hour",
        "range_shift": "Current shift",
        "range_prev_shift": "Previous shift",
        "range_today": "Today",
        "range_yesterday": "Yesterday",
        "range_7d": "Last 7 days",
        "range_30d": "Last 30 days",
        "range_custom": "Custom",
        "from": "From",
        "to": "To",
        "apply": "Apply",
        "shift": "Shift",
        "all_shifts": "All shifts",
        "shift_name": "Shift {name}",
        "period": "{start} – {end}",
        "by_hour": "per hour",
        "by_shift": "per shift",
        "by_day": "per day",
        "timezone": "times in {zone}",
        # KPIs
        "oee": "OEE",
        "availability": "Availability",
        "performance": "Performance",
        "quality": "Quality",
        "good_output": "Good output",
        "produced": "Produced",
        "plan": "Plan",
        "attainment": "Plan attainment",
        "scrap": "Scrap",
        "scrap_rate": "Scrap rate",
        "downtime": "Unplanned downtime",
        "technical_efficiency": "Technical efficiency",
        "data_coverage": "Data coverage",
        "units": "units",
        "minutes": "min",
        "hours": "h",
        "plan_set": "plan {per_hour} units per planned hour",
        "plan_default": "plan {per_hour} units/h: {share} % of capacity at the ideal cycle time"
        " (set the attribute planned_output_per_hour to change it)",
        "no_plan": "no plan (no ideal cycle time)",
        "output_of": "output counted at {asset}",
        "output_sum": "output: sum of the machines",
        "iso_note": "KPIs per ISO 22400-2: availability = APT / PBT, performance = PRI × PQ /"
        " APT, quality = GQ / PQ, OEE = their product.",
        "notes": "Data notes",
        "undefined": "–",
        # states
        "machines": "Machines",
        "state": "State",
        "producing": "Producing",
        "idle": "Idle",
        "down": "Down",
        "planned_stop": "Planned stop",
        "break": "Break",
        "unknown": "No data",
        "stale": "No recent data",
        "unmapped": "Unknown state",
        "since": "since {time}",
        "for_duration": "for {duration}",
        # line page
        "oee_trend": "OEE trend",
        "downtime_pareto": "Downtime by reason",
        "cycle_times": "Cycle-time distribution",
        "scrap_trend": "Scrap",
        "scrap_count": "scrap",
        "no_cycle_tag": "No machine of this line reports a cycle time.",
        "no_scrap_tag": "No machine of this line counts scrap (no count_scrap tag): every"
        " unit counts as good.",
        "no_downtime": "No unplanned downtime in this range.",
        "machine_kpis": "Machines of the line",
        "output_vs_plan": "Output against plan",
        "oee_by_line": "OEE by line",
        # asset page
        "trends": "Trends",
        "tag": "Tag",
        "value": "Value",
        "unit": "Unit",
        "limits": "Limits",
        "low": "low",
        "high": "high",
        "limit_low": "low limit",
        "limit_high": "high limit",
        "alarms": "Alarms",
        "active_alarms": "Active now",
        "alarm_history": "In this range",
        "no_alarms": "No alarm.",
        "above_high": "{tag} above its high limit {limit} {unit}",
        "below_low": "{tag} below its low limit {limit} {unit}",
        "down_state": "{reason}",
        "kind": "Kind",
        "kind_limit": "limit",
        "kind_state": "machine down",
        "start": "Start",
        "end": "End",
        "duration": "Duration",
        "extreme": "Extreme",
        "reason": "Reason",
        "ongoing": "ongoing",
        "state_timeline": "State",
        "latest": "Latest values",
        "no_numeric": "This machine reports no numeric tag.",
        # energy page
        "energy_kwh": "Energy",
        "kwh_per_unit": "Energy per unit",
        "peak_demand": "Peak demand (15 min)",
        "load_factor": "Load factor",
        "energy_cost": "Energy cost",
        "carbon": "CO₂ (grid)",
        "load_profile": "Load profile (mean kW by time of day)",
        "weekday": "weekday",
        "weekend": "weekend",
        "demand": "Demand (15-min average kW)",
        "cost_by_period": "Energy and cost by tariff period",
        "specific_energy": "Energy per unit of output",
        "anomalies": "Energy anomalies and their cost",
        "no_anomalies": "No anomaly in this range.",
        "anomaly_idle_waste": "idle waste",
        "anomaly_above_baseline": "above baseline",
        "excess_kwh": "Excess kWh",
        "cost": "Cost",
        "detail": "Detail",
        "meter_source_counter": "from the energy counter of {meter}",
        "meter_source_power": "from the active power of {meter}",
        "meter_source_machines": "no power meter: the sum of the machines' power",
        "no_energy": "No power meter and no machine power in the asset model.",
        "no_energy_data": "No energy data in this range.",
        "tariff_note": "Tariff {name} (illustrative prices, {currency}); demand charge"
        " {rate} {currency}/kW·month on the month's highest 15-min demand.",
        "baseline_note": "Above-baseline hours need 3 weeks of meter data before the range;"
        " there are {hours} h.",
        "tariff_period": "Period",
        "kwh": "kWh",
        "kw": "kW",
        "line_energy": "Machines' energy by line",
        "time_of_day": "time of day",
        "sharp": "sharp",
        "peak": "peak",
        "flat": "flat",
        "valley": "valley",
        # live refresh
        "live": "live",
        "updated": "updated {time}",
        "offline": "offline, retrying",
        "error": "Error",
        "back": "Back to the overview",
        # the service team's page (cloud/service_page.py)
        "service": "Service",
        "svc_predictions": "Open failure predictions",
        "svc_risk_chart": "Failure risk by machine (%)",
        "svc_no_predictions": "No open failure prediction: every scored machine looks healthy.",
        "svc_rank": "#",
        "svc_machine": "Machine",
        "svc_failure": "Failure",
        "svc_risk": "Risk",
        "svc_rul": "Remaining life",
        "svc_evidence": "Evidence (signal, deviation, drifting since)",
        "svc_made": "Scored",
        "svc_alerts": "Open alerts",
        "svc_no_alerts": "No open alert.",
        "svc_raised": "Raised",
        "svc_acknowledged": "Acknowledged",
        "svc_work_orders": "Work orders",
        "svc_no_work_orders": "No work order yet.",
        "svc_state": "State",
        "svc_scheduled": "Scheduled for",
        "svc_cause": "Cause",
        "svc_since": "since {time} ({hours} h)",
        "svc_hours": "{hours} h",
        "state_open": "open",
        "state_acknowledged": "acknowledged",
        "state_scheduled": "scheduled",
        "state_done": "done",
        "state_closed": "closed",
        # the industry-cloud operator's page (cloud/industry_page.py)
        "ind_title": "Member benchmarking",
        "ind_period": "Last 7 days up to {time}; percentiles over the cloud's {count}"
        " members with data, without names.",
        "ind_member": "Member",
        "ind_output": "Output (units)",
        "ind_position": "Among the members",
        "ind_above": "best quarter",
        "ind_upper": "better than the median",
        "ind_lower": "worse than the median",
        "ind_below": "worst quarter",
        "ind_too_few": "Percentiles need at least {k} members with data.",
        "ind_no_members": "This industry cloud has no member yet.",
        "ind_no_model": "no machines in the asset model",
        "ind_chart": "{kpi} of each member against the vertical's p25 / p50 / p75",
        "ind_median": "median (p50)",
    },
    "zh": {
        "app": "明州",
        "overview": "工厂概览",
        "line": "产线",
        "lines": "产线",
        "asset": "设备",
        "energy": "能源",
        "live_view": "实时视图",
        "agents": "边缘代理",
        "sign_out": "退出登录",
        "wall": "大屏模式",
        "exit_wall": "退出大屏",
        "switch_lang": "English",
        "site": "工厂",
        "no_model": "资产模型中此工厂还没有带状态标签的设备：接入设备"
        "（POST /api/tenants/{key}/assets）后即可在此查看 OEE。",
        "no_sites": "此企业的资产模型中还没有工厂。",
        "no_site": "此企业的资产模型中没有该工厂。",
        "range": "时间范围",
        "range_hour": "最近一小时",
        "range_shift": "当前班次",
        "range_prev_shift": "上一班次",
        "range_today": "今天",
        "range_yesterday": "昨天",
        "range_7d": "最近7天",
        "range_30d": "最近30天",
        "range_custom": "自定义",
        "from": "从",
        "to": "至",
        "apply": "应用",
        "shift": "班次",
        "all_shifts": "全部班次",
        "shift_name": "{name}班",
        "period": "{start} – {end}",
        "by_hour": "按小时",
        "by_shift": "按班次",
        "by_day": "按天",
        "timezone": "时区 {zone}",
        "oee": "OEE",
        "availability": "时间开动率",
        "performance": "性能开动率",
        "quality": "合格品率",
        "good_output": "合格品产量",
        "produced": "总产量",
        "plan": "计划",
        "attainment": "计划达成率",
        "scrap": "废品",
        "scrap_rate": "废品率",
        "downtime": "非计划停机",
        "technical_efficiency": "技术效率",
        "data_coverage": "数据覆盖率",
        "units": "件",
        "minutes": "分钟",
        "hours": "小时",
        "plan_set": "计划每计划小时 {per_hour} 件",
        "plan_default": "计划每小时 {per_hour} 件：按理想节拍产能的 {share}%"
        "（设置属性 planned_output_per_hour 可修改）",
        "no_plan": "无计划（无理想节拍）",
        "output_of": "产量按 {asset} 计",
        "output_sum": "产量：各设备之和",
        "iso_note": "指标依据 ISO 22400-2：时间开动率 = APT / PBT，性能开动率 = PRI × PQ / APT，"
        "合格品率 = GQ / PQ，OEE 为三者之积。",
        "notes": "数据说明",
        "undefined": "–",
        "machines": "设备状态",
        "state": "状态",
        "producing": "生产中",
        "idle": "空闲",
        "down": "故障停机",
        "planned_stop": "计划停机",
        "break": "休息",
        "unknown": "无数据",
        "stale": "数据中断",
        "unmapped": "未定义状态",
        "since": "自 {time}",
        "for_duration": "持续 {duration}",
        "oee_trend": "OEE 趋势",
        "downtime_pareto": "停机原因帕累托图",
        "cycle_times": "节拍时间分布",
        "scrap_trend": "废品",
        "scrap_count": "废品",
        "no_cycle_tag": "此产线没有设备上报节拍时间。",
        "no_scrap_tag": "此产线没有设备统计废品（无 count_scrap 标签）：所有产品按合格计。",
        "no_downtime": "此时间范围内无非计划停机。",
        "machine_kpis": "产线设备",
        "output_vs_plan": "产量与计划对比",
        "oee_by_line": "各产线 OEE",
        "trends": "趋势",
        "tag": "标签",
        "value": "数值",
        "unit": "单位",
        "limits": "限值",
        "low": "下限",
        "high": "上限",
        "limit_low": "下限",
        "limit_high": "上限",
        "alarms": "报警",
        "active_alarms": "当前报警",
        "alarm_history": "本时间范围内",
        "no_alarms": "无报警。",
        "above_high": "{tag} 高于上限 {limit} {unit}",
        "below_low": "{tag} 低于下限 {limit} {unit}",
        "down_state": "{reason}",
        "kind": "类型",
        "kind_limit": "超限",
        "kind_state": "设备停机",
        "start": "开始",
        "end": "结束",
        "duration": "时长",
        "extreme": "极值",
        "reason": "原因",
        "ongoing": "进行中",
        "state_timeline": "状态",
        "latest": "最新数值",
        "no_numeric": "此设备没有数值型标签。",
        "energy_kwh": "用电量",
        "kwh_per_unit": "单位产品能耗",
        "peak_demand": "最大需量（15分钟）",
        "load_factor": "负荷率",
        "energy_cost": "电费",
        "carbon": "碳排放（电网）",
        "load_profile": "负荷曲线（各时段平均千瓦）",
        "weekday": "工作日",
        "weekend": "周末",
        "demand": "需量（15分钟平均千瓦）",
        "cost_by_period": "各电价时段用电量与电费",
        "specific_energy": "单位产品能耗",
        "anomalies": "能耗异常及其费用",
        "no_anomalies": "此时间范围内无异常。",
        "anomaly_idle_waste": "空载浪费",
        "anomaly_above_baseline": "超基线用电",
        "excess_kwh": "超额电量 kWh",
        "cost": "费用",
        "detail": "说明",
        "meter_source_counter": "取自 {meter} 的电能计数",
        "meter_source_power": "取自 {meter} 的有功功率",
        "meter_source_machines": "无电能表：各设备功率之和",
        "no_energy": "资产模型中没有电能表，也没有设备功率。",
        "no_energy_data": "此时间范围内没有能耗数据。",
        "tariff_note": "电价 {name}（示例价格，{currency}）；需量电价 {rate} {currency}/千瓦·月，"
        "按当月最大15分钟需量计。",
        "baseline_note": "超基线分析需要时间范围之前3周的电表数据；现有 {hours} 小时。",
        "tariff_period": "时段",
        "kwh": "千瓦时",
        "kw": "千瓦",
        "line_energy": "各产线设备用电",
        "time_of_day": "时刻",
        "sharp": "尖峰",
        "peak": "高峰",
        "flat": "平段",
        "valley": "低谷",
        "live": "实时",
        "updated": "更新于 {time}",
        "offline": "离线，重试中",
        "error": "错误",
        "back": "返回概览",
        "service": "运维服务",
        "svc_predictions": "未关闭的故障预测",
        "svc_risk_chart": "各设备故障风险（%）",
        "svc_no_predictions": "没有未关闭的故障预测：所有已评分设备状态正常。",
        "svc_rank": "#",
        "svc_machine": "设备",
        "svc_failure": "故障类型",
        "svc_risk": "风险",
        "svc_rul": "剩余寿命",
        "svc_evidence": "依据（信号、偏离、漂移起始）",
        "svc_made": "评分时间",
        "svc_alerts": "未关闭的告警",
        "svc_no_alerts": "没有未关闭的告警。",
        "svc_raised": "触发时间",
        "svc_acknowledged": "已确认",
        "svc_work_orders": "工单",
        "svc_no_work_orders": "暂无工单。",
        "svc_state": "状态",
        "svc_scheduled": "计划日期",
        "svc_cause": "原因",
        "svc_since": "自 {time}（{hours} 小时）",
        "svc_hours": "{hours} 小时",
        "state_open": "待处理",
        "state_acknowledged": "已确认",
        "state_scheduled": "已排期",
        "state_done": "已完成",
        "state_closed": "已关闭",
        "ind_title": "成员对标",
        "ind_period": "截至 {time} 的最近7天；百分位数基于本行业云 {count} 家有数据的成员，"
        "不显示名称。",
        "ind_member": "成员",
        "ind_output": "产量（件）",
        "ind_position": "成员排位",
        "ind_above": "前四分之一",
        "ind_upper": "优于中位数",
        "ind_lower": "劣于中位数",
        "ind_below": "后四分之一",
        "ind_too_few": "百分位数至少需要 {k} 家有数据的成员。",
        "ind_no_members": "此行业云尚无成员。",
        "ind_no_model": "资产模型中没有设备",
        "ind_chart": "各成员{kpi}与行业 p25 / p50 / p75 对比",
        "ind_median": "中位数（p50）",
    },
}

# The state reasons of the shipped asset templates, and the calendar's own words. Reasons
# a tenant wrote itself are shown as written.
REASONS_ZH: dict[str, str] = {
    "producing parts": "生产中",
    "waiting: no order, material or operator": "等待：无订单、物料或操作工",
    "machine alarm": "设备报警",
    "mould change or setup": "换模或调机",
    "stopped by the operator": "操作工停机",
    "running": "运行",
    "blocked: the next station cannot take the part": "堵料：下一工位无法接收",
    "starved: no part from the previous station": "缺料：上一工位无来料",
    "station fault": "工位故障",
    "waiting for a unit": "等待产品",
    "testing": "检测中",
    "tester fault": "检测台故障",
    "calibration": "校准",
    "off: no air demand": "停机：无用气需求",
    "loaded": "加载",
    "running unloaded: no air demand": "空载运行：无用气需求",
    "compressor fault": "空压机故障",
    "maintenance": "维护",
    "pumping": "运行",
    "stopped: standby or no demand": "停机：备用或无需求",
    "no data": "无数据",
    "no recent data": "无近期数据",
    "break": "休息",
}


def normalize_lang(value: str | None) -> Lang | None:
    """``zh``, ``zh-CN``, ``en-GB`` … to ``zh`` or ``en``; None for anything else."""
    if not value:
        return None
    head = value.strip().lower()[:2]
    return head if head in LANGS else None  # type: ignore[return-value]


def request_lang(request: Request) -> Lang:
    """The language this request asks for (see the module doc)."""
    chosen = normalize_lang(request.query_params.get("lang"))
    if chosen:
        return chosen
    chosen = normalize_lang(request.cookies.get(LANG_COOKIE))
    if chosen:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        chosen = normalize_lang(part.split(";")[0])
        if chosen:
            return chosen
    return "en"


class Translator:
    """``t("key", name=…)``: the label in this language, formatted."""

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang
        self._messages: Mapping[str, str] = MESSAGES[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self._messages.get(key)
        if text is None:
            text = MESSAGES["en"].get(key)
        if text is None:
            raise KeyError(f"no label {key!r} in the message catalog")
        return text.format(**values) if values else text

    def reason(self, text: str) -> str:
        """A state reason or break name in this language (as written when unknown)."""
        if self.lang == "zh":
            return REASONS_ZH.get(text, text)
        return text

    def category(self, category: str | None) -> str:
        return self(category if category in _CATEGORY_KEYS else "unknown")


_CATEGORY_KEYS = ("producing", "idle", "down", "planned_stop", "break", "unknown")

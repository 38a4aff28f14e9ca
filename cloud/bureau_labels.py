"""The bureau page's labels in English and Chinese (the language is chosen as on the plant
pages: ``?lang=``, then the cookie, then the browser's ``Accept-Language``)."""

from __future__ import annotations

from cloud.i18n import Lang

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Digitalization and energy of the region",
        "bureau": "Economic bureau",
        "switch_lang": "中文",
        "sign_out": "Sign out",
        "period": "Month",
        "show": "Show",
        "source_platform": "Enterprises on the platform",
        "source_synthetic": "Synthetic region",
        "synthetic_banner": "SYNTHETIC DATA: a simulated region of {n} enterprises in 5 districts"
        " and 3 industry clouds (analytics/bureau/region.py, seed {seed}). It describes no real"
        " enterprise; it shows what this page looks like with a full region.",
        "no_facts": "No enterprise's facts have been gathered for {period} yet. Start a report"
        " below: every enterprise's job gathers its month, and the last one writes the report.",
        "too_few": "Only {n} enterprise(s) have facts for {period}. Groups of fewer than k = {k}"
        " enterprises are never shown, so every figure of this month is suppressed. This is the"
        " privacy rule working, not an error.",
        "see_synthetic": "See the synthetic region",
        "see_platform": "Back to the platform's enterprises",
        "enterprises": "Enterprises",
        "region_index": "Region index",
        "k_rule": "Groups of fewer than {k} enterprises are merged into (other); means that"
        " would isolate fewer than {k} enterprises are suppressed.",
        "by_district": "Index by district",
        "by_industry": "Index by industry cloud",
        "trend": "Index by month",
        "levels": "Enterprises by level",
        "energy": "Electricity per 10,000 yuan of output value",
        "districts": "Districts",
        "industry_clouds": "Industry clouds",
        "group": "Group",
        "index": "Index",
        "suppressed": "suppressed",
        "no_data": "–",
        "not_comparable": "units differ",
        "downloads": "Downloads",
        "csv_now": "These figures as CSV",
        "reports": "Reports",
        "report_files": "Report of {period}",
        "no_report": "No report of {period} has been written yet.",
        "start_report": "Write the report of {period}",
        "started": "Started: one job per enterprise. Reload in a while.",
        "run_state": "State",
        "requested": "Requested",
        "finished": "Finished",
        "parts": "Enterprises done",
        "indicator": "Indicator",
        "mean": "Mean",
        "contributors": "Enterprises with a value",
        "unit": "Unit",
        "level_axis": "enterprises",
        "index_axis": "index (0–100)",
        "region": "region",
    },
    "zh": {
        "title": "区域两化融合与能效",
        "bureau": "经信局",
        "switch_lang": "English",
        "sign_out": "退出",
        "period": "月份",
        "show": "显示",
        "source_platform": "平台企业",
        "source_synthetic": "模拟区域",
        "synthetic_banner": "模拟数据：由 {n} 家企业组成的模拟区域，分布于 5 个区县和"
        " 3 个行业云（analytics/bureau/region.py，种子 {seed}）。不代表任何真实企业，"
        "仅展示完整区域下本页面的样子。",
        "no_facts": "{period} 尚未采集任何企业的指标数据。请在下方生成报告："
        "每家企业的任务采集本月数据，最后一个任务生成报告。",
        "too_few": "{period} 只有 {n} 家企业有数据。少于 k = {k} 家企业的分组从不显示，"
        "因此本月所有数值均已屏蔽。这是隐私规则在起作用，并非错误。",
        "see_synthetic": "查看模拟区域",
        "see_platform": "返回平台企业",
        "enterprises": "企业数",
        "region_index": "区域指数",
        "k_rule": "少于 {k} 家企业的分组并入“(other)”；"
        "可能推算出少于 {k} 家企业数值的平均值一律屏蔽。",
        "by_district": "各区县指数",
        "by_industry": "各行业云指数",
        "trend": "指数月度趋势",
        "levels": "各等级企业数",
        "energy": "万元产值电耗",
        "districts": "区县",
        "industry_clouds": "行业云",
        "group": "分组",
        "index": "指数",
        "suppressed": "已屏蔽",
        "no_data": "–",
        "not_comparable": "单位不同",
        "downloads": "下载",
        "csv_now": "当前数据（CSV）",
        "reports": "报告",
        "report_files": "{period} 报告",
        "no_report": "{period} 的报告尚未生成。",
        "start_report": "生成 {period} 报告",
        "started": "已开始：每家企业一个任务。请稍后刷新。",
        "run_state": "状态",
        "requested": "发起",
        "finished": "完成",
        "parts": "已完成企业",
        "indicator": "指标",
        "mean": "平均值",
        "contributors": "有数值的企业",
        "unit": "单位",
        "level_axis": "企业数",
        "index_axis": "指数（0–100）",
        "region": "区域",
    },
}


# Words inside the report's charts (analytics/bureau/report.py writes them in English).
FIGURE_WORDS_ZH = {
    "by district": "按区县",
    "by industry cloud": "按行业云",
    "by cloud": "按行业云",
    "region": "区域",
    "mean index": "平均指数",
    "index": "指数",
    "units differ": "单位不同",
    "no data": "无数据",
}


def translate_figure_word(text: str, lang: Lang) -> str:
    """A chart's word in ``lang``: "region 62.1" and "suppressed (k=5)" included."""
    if lang != "zh" or not isinstance(text, str):
        return text
    if text in FIGURE_WORDS_ZH:
        return FIGURE_WORDS_ZH[text]
    if text.startswith("region "):
        return "区域 " + text.removeprefix("region ")
    if text.startswith("suppressed "):
        return "已屏蔽 " + text.removeprefix("suppressed ")
    return text


class BureauLabels:
    """``t("key", name=…)``: the label in this language, formatted."""

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang
        self._labels = LABELS[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self._labels.get(key, LABELS["en"].get(key))
        if text is None:
            raise KeyError(f"no bureau label {key!r}")
        return text.format(**values) if values else text

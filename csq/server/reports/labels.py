"""Bilingual words for reports: 中文 first, then English, as the handbooks' readers
paste them into Chinese documents and English-speaking managers read them too."""

from __future__ import annotations

from csq.api.reports import ReportColumn
from csq.domain.kinds import CATEGORY_ZH, KIND_ZH, Kind
from csq.domain.lifecycle import STATUS_ZH

NONE = "—"

KPI_COLUMNS: dict[str, ReportColumn] = {c.key: c for c in (
    ReportColumn(key="contacts", title="受理量 Contacts", type="int"),
    ReportColumn(key="resolved", title="已解决 Resolved", type="int"),
    ReportColumn(key="resolution_rate", title="问题解决率 Resolution rate", type="rate"),
    ReportColumn(key="complaints", title="投诉量 Complaints", type="int"),
    ReportColumn(key="complaint_rate", title="投诉率 Complaint rate", type="rate"),
    ReportColumn(key="first_contact_rate", title="一次解决率 First-contact resolution",
                 type="rate"),
    ReportColumn(key="avg_handling_s", title="平均处理时长 Avg handling (h)", type="seconds"),
    ReportColumn(key="sla_met_rate", title="按时答复率 SLA met", type="rate"),
    ReportColumn(key="satisfaction", title="满意度 Satisfaction (1–5)", type="score"),
    ReportColumn(key="callback_coverage", title="会员回访率 Member callback coverage",
                 type="rate"),
    ReportColumn(key="complaints_per_10k", title="万人投诉率 Complaints per 10,000 customers",
                 type="number"),
    ReportColumn(key="withdrawn", title="撤诉 Withdrawn", type="int"),
    ReportColumn(key="complaints_about", title="被投诉 Complaints about", type="int"),
)}

REPORT_TITLES = {
    "weekly": "每周服务报告 Weekly service report",
    "monthly": "服务监督报告 Monthly service supervision report",
    "complaints": "投诉分析 Complaint analysis",
    "callbacks": "回访汇总 Callback summary",
}

SATISFACTION_ZH = {5: "非常满意 Very satisfied", 4: "满意 Satisfied", 3: "一般 Neutral",
                   2: "不满意 Dissatisfied", 1: "非常不满意 Very dissatisfied"}


def category(name: str) -> str:
    return f"{CATEGORY_ZH.get(name, name)} {name}"


def kind(name: str) -> str:
    return f"{KIND_ZH.get(Kind(name), name)} {name}" if name in Kind.__members__.values() \
        else name


def status(name: str) -> str:
    return f"{STATUS_ZH.get(name, name)} {name}"


def key_or_none(value: str) -> str:
    return NONE if value == "-" else value

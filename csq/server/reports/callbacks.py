"""Callback summary (回访汇总): how many callbacks were made and how they went,
the satisfaction scores, member coverage (三个必保: 100 %), each agent's calls,
and the callbacks that need a follow-up (unhappy customers, overdue calls)."""

from __future__ import annotations

from csq.api.reports import Cell, Report, ReportColumn, ReportTable
from csq.domain import kpi
from csq.domain.callback_summary import callback_figures
from csq.domain.kinds import Kind
from csq.domain.records import Item
from csq.server.reports import labels
from csq.server.reports.tables import ReportContext, summary_table

COLUMNS: dict[str, ReportColumn] = {c.key: c for c in (
    ReportColumn(key="scheduled", title="新安排 Scheduled", type="int"),
    ReportColumn(key="completed", title="已完成 Completed", type="int"),
    ReportColumn(key="waived", title="免回访 Waived", type="int"),
    ReportColumn(key="satisfied", title="满意 Satisfied", type="int"),
    ReportColumn(key="unsatisfied", title="不满意 Unsatisfied", type="int"),
    ReportColumn(key="on_time_rate", title="按时回访率 On time", type="rate"),
    ReportColumn(key="overdue", title="逾期未回访 Overdue", type="int"),
    ReportColumn(key="attempts", title="未接通次数 Failed attempts", type="int"),
    ReportColumn(key="satisfaction", title="满意度 Satisfaction (1–5)", type="score"),
    labels.KPI_COLUMNS["callback_coverage"],
)}
AGENT_KEYS = ("scheduled", "completed", "waived", "on_time_rate", "overdue", "satisfaction")


def callbacks(ctx: ReportContext) -> Report:
    calls = [i for i in ctx.data.items if i.kind == Kind.CALLBACK]
    figures = callback_figures(calls, ctx.period, ctx.now)
    coverage = kpi.summarise(ctx.facts)
    values = figures.figures() | {"member_closed": coverage.member_closed,
                                  "member_covered": coverage.member_covered,
                                  "callback_coverage": coverage.callback_coverage}
    return ctx.report("callbacks", values, [
        summary_table(values, COLUMNS.keys(), COLUMNS),
        ReportTable(id="distribution", title="满意度分布 Satisfaction scores",
                    columns=[ReportColumn(key="score", title="评分 Score", type="int"),
                             ReportColumn(key="label", title="评价 Rating"),
                             ReportColumn(key="count", title="次数 Count", type="int")],
                    rows=[[n, labels.SATISFACTION_ZH[n], figures.distribution.get(n, 0)]
                          for n in range(5, 0, -1)]),
        _by_agent(ctx, calls),
        _needing_follow_up(ctx, calls),
    ])


def _by_agent(ctx: ReportContext, calls: list[Item]) -> ReportTable:
    rows: list[list[Cell]] = []
    for owner in sorted({c.owner or kpi.NONE_KEY for c in calls}):
        mine = [c for c in calls if (c.owner or kpi.NONE_KEY) == owner]
        values = callback_figures(mine, ctx.period, ctx.now).figures()
        if values["scheduled"] or values["completed"] or values["waived"]:
            rows.append([labels.key_or_none(owner), *(values[k] for k in AGENT_KEYS)])
    return ReportTable(id="by_agent", title="按客服 By agent", rows=rows,
                       columns=[ReportColumn(key="agent", title="客服 Agent"),
                                *(COLUMNS[k] for k in AGENT_KEYS)])


def _needing_follow_up(ctx: ReportContext, calls: list[Item]) -> ReportTable:
    """Unhappy outcomes in the period, and calls from the period still not made."""
    rows: list[list[Cell]] = []
    for c in calls:
        unhappy = (c.result is not None and c.result.outcome == "unsatisfied"
                   and ctx.period.contains(c.result.at))
        late = (c.status in ("scheduled", "attempted") and ctx.period.contains(c.created_at)
                and c.due_at is not None and ctx.now > c.due_at)
        if not (unhappy or late):
            continue
        name, phone = ctx.customer(c)
        rows.append([c.id, c.parent_id, name, phone, c.owner, labels.status(c.status),
                     ctx.local(c.due_at), c.result.satisfaction if c.result else None,
                     c.result.notes if c.result else None])
    return ReportTable(
        id="follow_up", title="需跟进 Needs follow-up", rows=rows, columns=[
            ReportColumn(key="id", title="编号 ID", type="int"),
            ReportColumn(key="parent", title="原事项 For item", type="int"),
            ReportColumn(key="customer", title="客户 Customer"),
            ReportColumn(key="phone", title="电话 Phone (masked)"),
            ReportColumn(key="owner", title="回访人 Caller"),
            ReportColumn(key="status", title="状态 Status"),
            ReportColumn(key="due", title="应回访 Due", type="time"),
            ReportColumn(key="score", title="评分 Score", type="int"),
            ReportColumn(key="notes", title="回访记录 Notes")])

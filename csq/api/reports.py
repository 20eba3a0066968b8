"""The report body: GET /v1/reports/{name} as JSON, which Markdown and CSV render.

A report is its figures (`kpis`, machine keys) plus titled tables whose
columns say how to show each value, so every renderer formats alike.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ReportName = Literal["weekly", "monthly", "complaints", "callbacks"]
REPORT_NAMES: tuple[str, ...] = ("weekly", "monthly", "complaints", "callbacks")
Cell = str | int | float | None


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReportColumn(_Wire):
    key: str
    title: str  # bilingual: 中文 English
    type: Literal["text", "int", "rate", "score", "seconds", "number", "time"] = "text"


class ReportTable(_Wire):
    id: str
    title: str
    columns: list[ReportColumn]
    rows: list[list[Cell]]
    note: str = ""


class Report(_Wire):
    name: str
    title: str
    period: str
    start: AwareDatetime
    end: AwareDatetime
    timezone: str
    generated_at: AwareDatetime
    kpis: dict[str, int | float | None] = Field(
        description="the period's figures; rates are fractions, times seconds")
    tables: list[ReportTable]

"""Work-item kinds, their categories and the channels customers reach us by.

The Chinese labels are the handbooks' own words; i18n and demo data use them.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    TICKET = "ticket"
    COMPLAINT = "complaint"
    CALLBACK = "callback"


CATEGORIES: dict[Kind, tuple[str, ...]] = {
    Kind.TICKET: ("inquiry", "query", "repair", "request", "quote", "suggestion"),
    Kind.COMPLAINT: ("product", "service", "process", "delivery"),
    Kind.CALLBACK: ("after_resolution", "scheduled", "survey"),
}

CATEGORY_ZH: dict[str, str] = {
    "inquiry": "咨询", "query": "查询", "repair": "报修", "request": "业务受理",
    "quote": "报价", "suggestion": "建议",
    "product": "产品质量", "service": "服务态度", "process": "流程规范", "delivery": "物流延误",
    "after_resolution": "售后回访", "scheduled": "定期回访", "survey": "满意度调查",
}

KIND_ZH: dict[Kind, str] = {Kind.TICKET: "工单", Kind.COMPLAINT: "投诉", Kind.CALLBACK: "回访"}


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    SMS = "sms"
    LETTER = "letter"
    VISIT = "visit"
    WEB = "web"


CHANNEL_ZH: dict[Channel, str] = {
    Channel.PHONE: "电话", Channel.EMAIL: "邮件", Channel.CHAT: "在线", Channel.SMS: "短信",
    Channel.LETTER: "信函", Channel.VISIT: "来访", Channel.WEB: "网站",
}


def is_valid_category(kind: Kind, category: str) -> bool:
    return category in CATEGORIES[kind]

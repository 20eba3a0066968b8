"""Masking of customer contact details (客户资料保密, promise 5).

Lists, the changes feed, the stream and every export carry only these forms;
the whole value leaves the server only through the audited reveal.
"""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """`13812345678` -> `138****5678`; shorter numbers keep only their last two digits."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) >= 11:  # 3 + 4 shown must leave at least 4 hidden
        return digits[:3] + "*" * 4 + digits[-4:]
    return "*" * max(len(digits) - 2, 1) + digits[-2:]


def mask_email(email: str | None) -> str | None:
    """`zhang.wei@example.com` -> `z***@example.com`."""
    if not email:
        return email
    local, sep, domain = email.partition("@")
    if not sep:
        return (local[:1] + "***") if local else "***"
    return f"{local[:1]}***@{domain}"


def is_masked(value: str | None) -> bool:
    return value is None or "*" in value

"""客户资料保密: lists and exports carry only masked contact details (DOMAIN.md §2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csq.domain.masking import is_masked, mask_email, mask_phone


@pytest.mark.parametrize("phone, masked", [
    ("13812345678", "138****5678"),
    (" 13812345678 ", "138****5678"),
    ("+86 138 1234 5678", "+86****5678"),
    ("010-87654321", "010****4321"),
    ("95598", "***98"),
    ("110", "*10"),
])
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked
    assert is_masked(mask_phone(phone))


@pytest.mark.parametrize("email, masked", [
    ("zhang.wei@example.com", "z***@example.com"),
    ("a@b.cn", "a***@b.cn"),
    ("@example.com", "***@example.com"),
    ("not-an-address", "n***"),
])
def test_mask_email(email, masked):
    assert mask_email(email) == masked
    assert is_masked(mask_email(email))


@pytest.mark.parametrize("empty", [None, ""])
def test_nothing_to_mask(empty):
    assert mask_phone(empty) == empty and mask_email(empty) == empty
    assert is_masked(None) and not is_masked("13812345678")


_phones = st.text(alphabet="0123456789", min_size=3, max_size=20) | st.from_regex(
    r"\+86 1[3-9]\d \d{4} \d{4}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(phone=_phones)
def test_masked_phone_never_reveals_the_whole_number(phone):
    masked = mask_phone(phone)
    assert is_masked(masked)
    shown = [c for c in masked if c != "*"]
    assert len(shown) < len(phone.strip()), f"{phone!r} -> {masked!r} hides nothing"
    assert phone.strip() not in masked


@settings(max_examples=100, deadline=None)
@given(local=st.from_regex(r"[a-z0-9._]{2,20}", fullmatch=True),
       domain=st.from_regex(r"[a-z0-9]{1,10}\.(com|cn|net)", fullmatch=True))
def test_masked_email_keeps_the_domain_and_hides_the_local_part(local, domain):
    masked = mask_email(f"{local}@{domain}")
    assert masked == f"{local[0]}***@{domain}"
    assert local not in masked.split("@")[0]

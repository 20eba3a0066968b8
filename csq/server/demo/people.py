"""Demo customers: Chinese and English names, 11-digit mobiles, e-mails,
every tier and every flag.

Why it is built rather than listed: the queue's badges, masking and sort order
only show their worth over a crowd (a hundred-odd customers, some of them
companies, a few on the watch list), and a seeded `random.Random` keeps that
crowd identical from run to run so screenshots and tests can rely on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from csq.domain.priority import Tier
from csq.domain.records import CustomerDraft

SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
)
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("芳", "fang"), ("伟", "wei"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"),
    ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"),
    ("超", "chao"), ("秀英", "xiuying"), ("桂兰", "guilan"), ("建华", "jianhua"),
    ("志强", "zhiqiang"), ("海燕", "haiyan"), ("丽华", "lihua"), ("晓东", "xiaodong"),
    ("雪梅", "xuemei"), ("子涵", "zihan"), ("浩然", "haoran"), ("欣怡", "xinyi"),
    ("宇轩", "yuxuan"), ("建国", "jianguo"), ("淑珍", "shuzhen"), ("文博", "wenbo"),
)
ENGLISH_FIRST = ("James", "Sarah", "Michael", "Emma", "David", "Olivia", "Daniel", "Sophie",
                 "Thomas", "Hannah", "Robert", "Grace", "Lucas", "Chloe", "Oliver", "Mia")
ENGLISH_LAST = ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Miller", "Anderson",
                "Clark", "Walker", "Wright", "Martin", "Hughes", "Evans", "Turner")
# Key accounts (大客户) are mostly firms: shops, factories, hotels, an estate office.
COMPANIES: tuple[tuple[str, str, str], ...] = (
    ("鑫达电子有限公司", "xinda-elec.cn", "zh"),
    ("华润万家(望京店)", "crv-wangjing.cn", "zh"),
    ("恒通精密机械厂", "hengtong-jx.com", "zh"),
    ("顺捷电商物流园", "shunjie56.cn", "zh"),
    ("绿城物业管理处(三期)", "lvcheng-wy.cn", "zh"),
    ("川味坊餐饮连锁", "chuanweifang.com", "zh"),
    ("Sunrise Trading Co., Ltd.", "sunrise-trading.com", "en"),
    ("Harbour View Hotel", "harbourview-hotel.com", "en"),
)
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "155", "156", "157", "158", "159", "166", "176", "177", "180", "181",
                   "182", "183", "185", "186", "187", "188", "189", "191", "198", "199")
ZH_MAIL = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "139.com", "aliyun.com")
EN_MAIL = ("gmail.com", "outlook.com", "hotmail.com", "icloud.com", "yahoo.com")


@dataclass(frozen=True)
class Persona:
    """A customer to create, with what the seed needs to know beyond the record."""

    draft: CustomerDraft
    lang: str  # "zh" or "en": which scenarios and replies suit them
    watch: bool = False  # a lead puts them on the watch list (repeated claims)
    company: bool = False


def mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number (no +86), as agents type them."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _person(rng: random.Random, lang: str) -> tuple[str, str]:
    """A display name and the mailbox name a person of that name might pick."""
    if lang == "en":
        first, last = rng.choice(ENGLISH_FIRST), rng.choice(ENGLISH_LAST)
        return f"{first} {last}", rng.choice([f"{first}.{last}", f"{first[0]}{last}",
                                              f"{first}{rng.randint(1, 99)}"]).lower()
    (sur, sur_py), (given, given_py) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
    local = rng.choice([f"{sur_py}.{given_py}", f"{sur_py}{given_py}{rng.randint(60, 99)}",
                        f"{given_py}_{sur_py}", f"{rng.randint(10**6, 10**9)}"])
    return sur + given, local


@dataclass(frozen=True)
class _Profile:
    tier: Tier
    vip: bool = False
    member: bool = False
    key_account: bool = False
    special_care: bool = False
    watch: bool = False
    company: bool = False
    lang: str | None = None  # None: mostly Chinese, sometimes English


# Profiles that make sure every tier and every flag shows up, whatever the seed.
_COVERAGE: tuple[_Profile, ...] = (
    _Profile(Tier.A, vip=True, member=True),
    _Profile(Tier.A, key_account=True, company=True),
    _Profile(Tier.B, member=True, special_care=True),
    _Profile(Tier.B, vip=True),
    _Profile(Tier.C, member=True),
    _Profile(Tier.C, special_care=True),
    _Profile(Tier.D),
    _Profile(Tier.D, watch=True),
    _Profile(Tier.C, watch=True, lang="en"),
    _Profile(Tier.B, member=True, lang="en"),
)


def personas(rng: random.Random, count: int = 120) -> list[Persona]:
    """`count` distinct customers; the first few cover every tier and flag."""
    phones: set[str] = set()
    companies = list(COMPANIES)
    rng.shuffle(companies)
    people: list[Persona] = []
    for index in range(count):
        profile = _COVERAGE[index] if index < len(_COVERAGE) else _random_profile(rng)
        lang = profile.lang or ("en" if rng.random() < 0.15 else "zh")
        phone = mobile(rng)
        while phone in phones:
            phone = mobile(rng)
        phones.add(phone)
        company = profile.company and bool(companies)
        email: str | None
        if company:
            name, domain, lang = companies.pop()
            email = f"{rng.choice(['service', 'admin', 'purchase', 'ops'])}@{domain}"
        else:
            name, local = _person(rng, lang)
            domains = EN_MAIL if lang == "en" else ZH_MAIL
            wants_mail = rng.random() < (0.9 if lang == "en" else 0.55)
            email = f"{local}@{rng.choice(domains)}" if wants_mail else None
        draft = CustomerDraft(name=name, phone=phone, email=email, tier=profile.tier,
                              vip=profile.vip, member=profile.member,
                              key_account=profile.key_account or company,
                              special_care=profile.special_care)
        people.append(Persona(draft, lang, watch=profile.watch, company=company))
    return people


def _random_profile(rng: random.Random) -> _Profile:
    tier = rng.choices(list(Tier), weights=[10, 25, 45, 20])[0]
    company = tier in (Tier.A, Tier.B) and rng.random() < 0.12
    return _Profile(
        tier=tier,
        vip=rng.random() < {Tier.A: 0.6, Tier.B: 0.2}.get(tier, 0.02),
        member=rng.random() < 0.4,
        special_care=not company and rng.random() < 0.06,
        company=company,
        watch=tier in (Tier.C, Tier.D) and rng.random() < 0.03,
    )


def walk_in(rng: random.Random) -> Persona:
    """One new private customer, as the live simulator meets them."""
    lang = "en" if rng.random() < 0.15 else "zh"
    name, local = _person(rng, lang)
    domains = EN_MAIL if lang == "en" else ZH_MAIL
    email = f"{local}@{rng.choice(domains)}" if rng.random() < 0.6 else None
    profile = _random_profile(rng)
    draft = CustomerDraft(name=name, phone=mobile(rng), email=email, tier=profile.tier,
                          vip=profile.vip, member=profile.member,
                          special_care=profile.special_care)
    return Persona(draft, lang)


def speaks_english(name: str) -> bool:
    """A customer whose name is in Latin letters gets English scenarios and replies."""
    return name.isascii()

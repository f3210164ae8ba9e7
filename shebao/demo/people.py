"""Demo step "registry": the people of 慈溪 and their payment accounts, written with COPY.

Every person has a valid 身份证号 (area code, birth date, sequence with the sex parity, check character);
some carry the 15-digit number they were first issued; addresses are in the seeded towns and
communities; accounts are at the local banks, mostly Luhn-valid debit cards, some passbook numbers
that fail Luhn (a warning only), some persons with an older closed account before the current one.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from bisect import bisect
from itertools import accumulate

from django.db import connection
from django.utils import timezone
from stdnum import luhn

from shebao.common.identity import check_char
from shebao.common.jobs import Progress
from shebao.common.pgcopy import copy_rows
from shebao.demo import names
from shebao.demo.steps import demo_step, scale_size
from shebao.registry.models import Region
from shebao.registry.selectors import bank_label
from shebao.registry.services import name_initials, person_name_keys_fill

TODAY = dt.date(2026, 1, 1)  # fixed, so a seed always gives the same data
PERSON_COLUMNS = (
    "id", "id_number", "id_number_original", "name", "name_initials", "sex", "birth_date", "town_id",
    "community_id", "hukou_address", "residence_address", "mobile", "phone", "death_date", "notes",
    "created_at", "updated_at",
)
ACCOUNT_COLUMNS = (
    "person_id", "bank", "branch", "account_number", "holder_name", "valid_from", "valid_to",
    "luhn_warning", "created_at",
)


class Chooser:
    """Weighted choice in O(log n) from a fixed table (random.choices rebuilds its table per call)."""

    def __init__(self, weighted: dict | list) -> None:
        items = list(weighted.items()) if isinstance(weighted, dict) else list(weighted)
        self.values = [v for v, _ in items]
        self.cum = list(accumulate(w for _, w in items))

    def __call__(self, rng: random.Random):
        return self.values[bisect(self.cum, rng.random() * self.cum[-1])]


SURNAME = Chooser(names.SURNAMES)
AREA = Chooser(names.AREA_CODES)
BANK = Chooser({code: spec[0] for code, spec in names.BANKS.items()})


def _birth_date(rng: random.Random) -> dt.date:
    # the generation the schemes pay: born 1930–1975, most around 1950; some younger
    year = int(rng.triangular(1928, 1976, 1952)) if rng.random() < 0.86 else rng.randint(1976, 2003)
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))


def _given_name(rng: random.Random, born: dt.date, male: bool) -> str:
    year = born.year + rng.randint(-6, 6)  # fashions overlap
    if year < 1958:
        pool = names.MALE_OLD if male else names.FEMALE_OLD
    elif year < 1979:
        pool = names.MALE_MID if male else names.FEMALE_MID
    else:
        pool = names.MALE_YOUNG if male else names.FEMALE_YOUNG
    single = rng.random() < (0.22 if year < 1979 else 0.35)
    if single:
        return rng.choice(pool)
    first = rng.choice(pool if rng.random() < 0.7 else (names.MALE_MID if male else names.FEMALE_MID))
    second = rng.choice(pool)
    return first + second


def _mobile(rng: random.Random) -> str:
    return rng.choice(names.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _landline(rng: random.Random) -> str:
    return rng.choice(names.LANDLINE_PREFIXES) + f"{rng.randrange(10**6):06d}"


def _address(rng: random.Random, town: Region, community: Region | None) -> str:
    base = town.name + (community.name if community else "")
    if community is None or community.name.endswith("村") or rng.random() < 0.35:
        return f"{base}{rng.randint(1, 18)}组{rng.randint(1, 160)}号"
    if rng.random() < 0.5:
        return f"{base}{rng.choice(names.ESTATES)}{rng.randint(1, 40)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室"
    return f"{base}{rng.choice(names.ROADS)}{rng.randint(1, 999)}号"


def _digits(rng: random.Random, k: int) -> str:
    return f"{rng.randrange(10**k):0{k}d}"


def _card_number(rng: random.Random, bank: str) -> tuple[str, bool]:
    """(number, luhn_ok): mostly a debit card with a Luhn check digit, some passbooks (存折/一折通)."""
    _, bins, length = names.BANKS[bank]
    if bank in {"CXRCB", "ABC", "PSBC"} and rng.random() < 0.2:
        length = rng.choice((17, 18, 19))
        body = rng.choice(("201", "301", "101", "809")) + _digits(rng, length - 3)
        if luhn.is_valid(body):  # a passbook number that happens to pass: make it fail, as most do
            body = body[:-1] + str((int(body[-1]) + 1) % 10)
        return body, False
    body = rng.choice(bins) + _digits(rng, length - 7)
    return body + luhn.calc_check_digit(body), True


@functools.cache
def _branch(bank: str, town_name: str) -> str:
    short = town_name.removesuffix("街道").removesuffix("镇")
    if bank == "CXRCB":
        return f"慈溪农商银行{short}支行"
    return f"{bank_label(bank)}慈溪{short}{'支行' if bank in {'ABC', 'ICBC', 'CCB', 'BOC'} else '营业所'}"


def _date_between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return start
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _death_date(rng: random.Random, born: dt.date) -> dt.date | None:
    chance = 0.35 if born.year < 1940 else 0.15 if born.year < 1950 else 0.06 if born.year < 1960 else 0.01
    if rng.random() >= chance:
        return None
    earliest = max(dt.date(born.year + 55, born.month, 1), dt.date(2006, 1, 1))
    return _date_between(rng, earliest, TODAY - dt.timedelta(days=1))


def _copy(table: str, columns: tuple[str, ...], rows) -> int:
    with connection.cursor() as cursor:
        return copy_rows(cursor, table, columns, rows)


def _allocate_person_ids(n: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('registry_person', 'id')) FROM generate_series(1, %s)", [n]
        )
        return sorted(r[0] for r in cursor.fetchall())


def registry_reset() -> None:
    """Remove every person and account (and, by CASCADE, whatever refers to them). The runner calls
    this only when every person is demo data."""
    with connection.cursor() as cursor:
        # Deferred FK checks still pending in this transaction would block TRUNCATE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE registry_bankaccount, registry_person CASCADE")


@demo_step("registry", order=10, reset=registry_reset)
def registry_people(scale: str, rng: random.Random, progress: Progress) -> str:
    count = scale_size(scale, "persons")
    towns = list(Region.objects.filter(level=Region.Level.TOWN).order_by("sort", "code"))
    if not towns:
        raise RuntimeError("行政区划表为空：请先执行 migrate")
    by_town: dict[int, list[Region]] = {t.pk: [] for t in towns}
    for c in Region.objects.filter(level=Region.Level.COMMUNITY).order_by("sort", "code"):
        by_town.setdefault(c.parent_id, []).append(c)
    big = {"浒山街道": 1.6, "白沙路街道": 1.2, "古塘街道": 1.2, "周巷镇": 1.4, "观海卫镇": 1.4, "龙山镇": 1.1}
    town_choice = Chooser([(t, big.get(t.name, 1.0)) for t in towns])

    with connection.cursor() as cursor:
        # Nobody else registers a person while the demo loads: its ids form one clean range.
        cursor.execute("LOCK TABLE registry_person IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT id_number FROM registry_person")
        taken = {r[0] for r in cursor.fetchall()}

    progress.start(count, "生成人员")
    now = timezone.now()
    initials: dict[str, str] = {}
    persons: list[tuple] = []
    accounts: list[tuple] = []
    ids = _allocate_person_ids(count)
    for pid in ids:
        born = _birth_date(rng)
        area = AREA(rng)
        if area in names.OLD_AREA_CODES and born.year > 1980:
            area = "330282"
        while True:
            seq = rng.randint(1, 999)
            male = seq % 2 == 1
            first17 = f"{area}{born:%Y%m%d}{seq:03d}"
            number = first17 + check_char(first17)
            if number not in taken:
                taken.add(number)
                break
        original = ""
        if born.year <= 1975 and rng.random() < 0.06:
            original = f"{area}{born:%y%m%d}{seq:03d}"
        name = SURNAME(rng) + _given_name(rng, born, male)
        ini = initials.get(name)
        if ini is None:
            ini = initials[name] = name_initials(name)
        town = town_choice(rng)
        communities = by_town.get(town.pk) or []
        community = rng.choice(communities) if communities and rng.random() < 0.97 else None
        hukou = _address(rng, town, community)
        r = rng.random()
        if r < 0.75:
            residence = hukou
        elif r < 0.95:
            residence = _address(rng, town, rng.choice(communities) if communities else None)
        else:
            other = town_choice(rng)
            others = by_town.get(other.pk) or []
            residence = _address(rng, other, rng.choice(others) if others else None)
        death = _death_date(rng, born)
        mobile = _mobile(rng) if rng.random() < (0.6 if born.year < 1940 else 0.9) else ""
        phone = _landline(rng) if rng.random() < 0.25 else ""
        persons.append((
            pid, number, original, name, ini, "M" if male else "F", born, town.pk,
            community.pk if community else None, hukou, residence, mobile, phone, death, "", now, now,
        ))

        # Payment accounts: most living persons have one; some changed bank once (history kept).
        if rng.random() < (0.5 if death else 0.94):
            adult = dt.date(born.year + 18, born.month, 1)
            last = min(dt.date(2025, 10, 1), death) if death else dt.date(2025, 10, 1)
            current_from = _date_between(rng, max(adult, dt.date(2000 if death else 2008, 1, 1)), last)
            old_earliest = max(adult, dt.date(2000, 1, 1))
            if rng.random() < 0.15 and current_from - dt.timedelta(days=400) > old_earliest:
                old_bank = BANK(rng)
                old_number, old_ok = _card_number(rng, old_bank)
                old_from = _date_between(rng, old_earliest, current_from - dt.timedelta(days=400))
                accounts.append((
                    pid, old_bank, _branch(old_bank, town.name), old_number, name, old_from,
                    current_from - dt.timedelta(days=1), not old_ok, now,
                ))
            bank = BANK(rng)
            number_, ok = _card_number(rng, bank)
            closed = (death + dt.timedelta(days=rng.randint(20, 200))) if death else None
            if closed and closed < current_from:
                closed = current_from
            accounts.append((pid, bank, _branch(bank, town.name), number_, name, current_from, closed, not ok, now))
        progress.advance()

    progress.start(len(persons) + len(accounts), "写入数据库")
    _copy("registry_person", PERSON_COLUMNS, _counting(persons, progress))
    person_name_keys_fill()  # the names' pinyin sort keys (set-based, each distinct name once)
    _copy("registry_bankaccount", ACCOUNT_COLUMNS, _counting(accounts, progress))
    dead = sum(1 for p in persons if p[13])
    old15 = sum(1 for p in persons if p[2])
    passbooks = sum(1 for a in accounts if a[7])
    return (f"人员 {len(persons):,} 人（已故 {dead:,}，有 15 位原号 {old15:,}），"
            f"银行账户 {len(accounts):,} 个（未通过 Luhn {passbooks:,}）")


def _counting(rows: list[tuple], progress: Progress):
    for row in rows:
        yield row
        progress.advance()

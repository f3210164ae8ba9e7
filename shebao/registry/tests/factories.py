"""Test helpers for the registry: valid 身份证号 and persons."""

from __future__ import annotations

import datetime as dt
import itertools

from shebao.common.identity import check_char
from shebao.registry.models import Person, Region

_seq = itertools.count(1)


def id_number(born: dt.date = dt.date(1950, 1, 1), *, male: bool = True, area: str = "330282",
              seq: int | None = None) -> str:
    """A valid 18-digit 身份证号 (check character computed); the sequence digits are odd for men, even for
    women, and differ on every call unless ``seq`` is given."""
    n = next(_seq) if seq is None else seq
    sequence = (n * 2 + (1 if male else 0)) % 1000
    first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)


def town(name: str = "浒山街道") -> Region:
    return Region.objects.get(name=name, level="town")


def make_person(*, name: str = "张三丰", town_name: str = "浒山街道", **kwargs) -> Person:
    from shebao.registry.services import person_create

    t = town(town_name)
    return person_create(user=None, id_number=kwargs.pop("id_number", None) or id_number(), name=name, town=t, **kwargs)

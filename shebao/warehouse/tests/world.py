"""A small world for the audit tests: the 省 dictionary, persons, payroll runs with lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from shebao.warehouse import samples
from shebao.warehouse.dictionary import dictionary_load


def load_dictionary(tmp_path, user):
    return dictionary_load(source_name="省", path=samples.dictionary_folder(tmp_path), user=user)


def paid_line(person, month: dt.date, user, *, net: str = "2000.00", status: str = "paid"):
    """One line of a regular ZG run for ``month`` (the run made on first use)."""
    from shebao.benefits.models import Scheme
    from shebao.payroll.models import PayrollLine, PayrollRun

    run, _ = PayrollRun.objects.get_or_create(scheme=Scheme.objects.get(code="ZG"), period=month, kind="regular",
                                              defaults={"created_by": user})
    seq = PayrollLine.objects.filter(run=run).count() + 1
    return PayrollLine.objects.create(run=run, seq=seq, person=person, id_number=person.id_number, name=person.name,
                                      gross=Decimal(net), net=Decimal(net), status=status,
                                      paid_amount=Decimal(net) if status == "paid" else 0)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path

"""The authorization rows of issue 17's clerk-facing additions (老农保):

- ``rural:document_reprint`` (POST): 补打 of a 结算单 — the 退款 rule (NB), the document's town; sent
  without its one-time token a passing identity gets the detail page back with 表单已过期 and nothing is
  counted or written;
- ``rural:account_years`` with ``?print=1`` (the printable A4 page) and ``?export=xlsx`` (the workbook):
  the viewing rule (NB), the account's town.

The world is the 自管人员/老农保 matrix's (``test_matrix_zg_nb.build_world``)."""

from __future__ import annotations

import pytest

from shebao.rural_pension.models import RuralDocument
from shebao.rural_pension.views import REFUND_RULE
from shebao.rural_pension.views import VIEW_RULE as NB_VIEW
from tests.authz.harness import Entry, run_page_row
from tests.authz.test_matrix_zg_nb import build_world, doc_n, nb_a, written

pytestmark = pytest.mark.django_db

ROWS = [
    Entry("rural:document_reprint", REFUND_RULE, args=doc_n, town_scoped=True, method="POST",
          data=lambda w: {}),
    Entry("rural:account_years", NB_VIEW, args=nb_a(), town_scoped=True, query={"print": "1"}),
    Entry("rural:account_years", NB_VIEW, args=nb_a(), town_scoped=True, query={"export": "xlsx"}),
]


@pytest.fixture
def world(db, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return build_world(tmp_path)


def test_rows(world):
    """Every row as every identity; nothing written, no print counted."""
    problems = []
    printed = list(RuralDocument.objects.values_list("pk", "printed_count"))
    for entry in ROWS:
        before = written()
        problems += run_page_row(entry, world, world.users)
        if written() != before:
            problems.append(f"{entry.id}: wrote something")
    assert not problems, "\n".join(problems)
    assert list(RuralDocument.objects.values_list("pk", "printed_count")) == printed

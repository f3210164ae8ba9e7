"""Issue 17 (老农保, what clerks see): the 结算单's signature boxes stay with the amount, the operator by
name; the yearly account table printable (A4) and exported (.xlsx, exact amounts); the 村 list follows
the chosen town."""

from __future__ import annotations

import copy
import io
from decimal import Decimal

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from shebao.common.masking import Masker
from shebao.common.money import amount_in_words
from shebao.registry.models import Region
from shebao.rural_pension.models import RuralAccount
from shebao.rural_pension.services import rural_refund_settle, rural_years_recompute
from shebao.rural_pension.statement import render_statement
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_user, set_rates
from shebao.rural_pension.tests.test_views import CLERK_PERMS
from shebao.rural_pension.tests.test_views import make_user as make_page_user
from shebao.web.tests.helpers import once

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def document(db):
    set_rates()
    clerk = make_user("nb_login")
    clerk.full_name = "陈丽萍"
    clerk.save()
    account = make_account(flows=HAND_FLOWS)
    rural_years_recompute()
    return rural_refund_settle(account=account, on=timezone.localdate(), pay_method="bank", user=clerk)


def _layout(doc) -> dict:
    layout: dict = {}
    pdf = render_statement(doc, masker=Masker(can_view=False), reprint=False, agency="慈溪市社会保险管理服务中心",
                           words=amount_in_words(doc.amount), layout=layout)
    assert pdf.startswith(b"%PDF")
    return layout


def test_signature_boxes_stay_on_the_page_of_the_amount(document):
    """Yearly tables of every length from 20 to 44 rows: wherever the page breaks, the signature boxes
    are on the page of the amount and the operator line (they were left alone on page 2)."""
    base = document.table["years"][0]
    split_somewhere = False
    for n in range(20, 45):
        doc = copy.copy(document)
        doc.table = {**document.table, "years": [{**base, "year": 1980 + i} for i in range(n)]}
        layout = _layout(doc)
        assert layout["signatures"] == layout["operator"] == layout["amount"], (n, layout)
        split_somewhere = split_somewhere or layout["pages"] > 1
    assert split_somewhere  # the lengths tried do break the page


def test_statement_names_the_operator_not_the_login(document):
    layout = _layout(document)
    assert layout["operator_text"].startswith("经办人：陈丽萍") and "nb_login" not in layout["operator_text"]


@pytest.fixture
def account(db):
    set_rates()
    acc = make_account(flows=HAND_FLOWS)
    rural_years_recompute()
    return acc


def test_yearly_table_exports_exact_amounts(client, account):
    viewer = make_page_user("nbview", *CLERK_PERMS)
    client.force_login(viewer)
    response = client.get(reverse("rural:account_years", args=[account.pk]), {"export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:3] == ["年度", "期初余额", "个人缴费"]
    by_year = {r[0]: r for r in rows[1:] if r[0] and r[0].isdigit()}
    def money(value) -> Decimal:
        assert isinstance(value, int | float), value  # a number in the workbook, not text
        return D(str(value)).quantize(D("0.01"))

    assert money(by_year["2020"][2]) == D("1200.00") and money(by_year["2020"][3]) == D("600.00")
    assert money(by_year["2023"][9]) == D("2640.21")  # the hand-computed closing 2023 (test_interest)
    total = next(r for r in rows if r[0] == "合计")
    assert money(total[2]) == D("2240.00") and money(total[5]) == D("100.00")
    person = account.person
    facts = next(r for r in rows if r[0] == "姓名")
    assert facts[1] == person.name and facts[3] != person.id_number and facts[3].endswith(person.id_number[-4:])


def test_yearly_table_printable_page(client, account):
    viewer = make_page_user("nbview2", *CLERK_PERMS)
    client.force_login(viewer)
    detail = client.get(reverse("rural:account_detail", args=[account.pk]), {"tab": "years"}).content.decode()
    assert 'id="years-print-link"' in detail and 'id="years-xlsx-link"' in detail
    page = client.get(reverse("rural:account_years", args=[account.pk]), {"print": "1"}).content.decode()
    assert "老农保个人年账户明细" in page and 'id="years-table"' in page and "2,640.21" in page
    assert 'class="sidemenu"' not in page  # the sheet alone, for A4
    assert "打印人：NBVIEW2" in page and account.person.id_number not in page
    assert "data-print" in page


def test_village_list_follows_the_chosen_town(client, account):
    user = make_page_user("nbedit", *CLERK_PERMS)
    client.force_login(user)
    town = Region.objects.get(pk=account.town_id)
    other_town = Region.objects.filter(level="town").exclude(pk=town.pk).order_by("id").first()
    own = Region.objects.filter(parent=town).order_by("sort", "code").first()
    foreign = Region.objects.filter(parent=other_town).order_by("sort", "code").first()
    url = reverse("rural:account_edit", args=[account.pk])
    page = client.get(url).content.decode()
    select = page[page.index('name="community"'):]
    select = select[:select.index("</select>")]
    assert f'value="{own.pk}"' in select and f'value="{foreign.pk}"' not in select
    assert 'hx-get="/persons/communities/"' in page
    data = {"name": account.person.name, "town": town.pk, "community": foreign.pk, "enrolled_on": "2019-12-01",
            "status": "paying", "residence_address": "", "mobile": "", "legacy_bank": "",
            "legacy_account_number": "", "note": "", "reason": "核对", "confirm": "1"}
    refused = client.post(url, once(data))
    assert refused.status_code == 200
    assert "所选的村不属于所选的镇街道，请重新选择" in refused.content.decode()
    assert RuralAccount.objects.get(pk=account.pk).community_id is None  # nothing written
    # the other town chosen: its villages are offered, and one of them is accepted
    moved = client.post(url, once({**data, "town": other_town.pk}))
    assert moved.status_code == 302
    assert RuralAccount.objects.get(pk=account.pk).community_id == foreign.pk

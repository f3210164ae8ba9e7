"""The audit page: permission, filters, readable masked before/after, export."""

import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from shebao.registry.services import bank_account_set, person_update
from shebao.web.tests.helpers import make_person, make_user

pytestmark = pytest.mark.django_db

FULL = "33028219500104123X"
MASKED = "330282********123X"


@pytest.fixture
def history():
    clerk = make_user("clerk9", towns=["浒山街道"])
    p = make_person("王小明", number=FULL, mobile="13812341234")
    person_update(user=clerk, person=p, mobile="13900001111", reason="电话变更")
    bank_account_set(user=clerk, person=p, bank="ICBC", account_number="6222021001115704287", holder_name="王小明",
                     reason="首次登记")
    other = make_person("李四", town_name="古塘街道")
    return p, other, clerk


def test_needs_view_audit(client, history):
    client.force_login(make_user("plain", towns=["浒山街道"]))
    assert client.get(reverse("audit:list")).status_code == 403


def test_list_filter_by_person_and_masked_diff(client, history):
    p, other, clerk = history
    client.force_login(make_user("auditor", roles=["it_admin"], all_regions=True))
    html = client.get(reverse("audit:list") + "?person=123X").content.decode()
    assert "电话变更" in html and "首次登记" in html
    assert "李四" not in html
    assert "138****1234" in html and "139****1111" in html and "13900001111" not in html
    assert "6222***********4287" in html and "6222021001115704287" not in html
    assert MASKED in html and FULL not in html
    assert "手机" in html and "修改" in html and "人员" in html
    # by name too, and by the person page's link (person_id)
    assert "电话变更" in client.get(reverse("audit:list") + "?person=王小明").content.decode()
    html = client.get(reverse("audit:list") + f"?person_id={other.pk}").content.decode()
    assert "电话变更" not in html and "新增人员 李四" in html


def test_filters_user_action_type_date(client, history):
    p, other, clerk = history
    client.force_login(make_user("auditor", roles=["sys_admin"], all_regions=True))
    html = client.get(reverse("audit:list") + "?user=clerk9&action=update&object_type=registry.person").content.decode()
    assert "电话变更" in html and "首次登记" not in html and "共 1 条" in html
    today = timezone.localdate()
    assert "共 0 条" in client.get(
        reverse("audit:list") + f"?date_to={(today - dt.timedelta(days=1)).isoformat()}").content.decode()
    assert "电话变更" in client.get(reverse("audit:list") + f"?date_from={today}&date_to={today}").content.decode()


def test_sensitive_auditor_sees_full_values(client, history):
    client.force_login(make_user("auditor2", roles=["it_admin"], all_regions=True, sensitive=True))
    html = client.get(reverse("audit:list") + "?person=123X").content.decode()
    assert "13900001111" in html and FULL in html


def test_export_masked(client, history):
    client.force_login(make_user("auditor", roles=["it_admin"], all_regions=True))
    response = client.get(reverse("audit:list") + "?person=123X&export=xlsx")
    body = b"".join(response.streaming_content)
    rows = list(openpyxl.load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "时间" and rows[0][-1] == "变更内容"
    assert len(rows) == 4  # header + create person + update + account
    changes = {r[7]: r[9] for r in rows[1:]}
    assert "手机: 138****1234 → 139****1111" in changes["修改人员信息 王小明"]
    assert "6222***********4287" in changes["登记支付账户 王小明"]
    assert FULL.encode() not in body and b"13900001111" not in body and b"6222021001115704287" not in body

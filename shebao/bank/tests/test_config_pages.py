"""The configuration pages of the bank engine posted for real: a channel set through its page, a new
template added through its page, and the add-a-bank form posted twice at once (one bank, one audit)."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from shebao.bank.formats import builtin_definition
from shebao.bank.models import BankChannel, BankTemplate
from shebao.common.models import AuditEvent
from shebao.registry.models import Bank

pytestmark = pytest.mark.django_db


def test_channel_page_sets_a_folder_channel(client, settings, tmp_path, reviewer, clerk):
    settings.SHEBAO_BANK_SHARES = tmp_path
    client.force_login(reviewer)
    url = reverse("bank:channel_edit", args=["ICBC"])
    data = {"kind": "folder", "active": "on", "out_dir": str(tmp_path / "o"), "in_dir": str(tmp_path / "i"),
            "port": "22", "import_user": clerk.pk}
    response = client.post(url, {**data, "in_dir": "/etc"})
    assert "不在银行共享目录" in response.content.decode() and not BankChannel.objects.exists()
    response = client.post(url, data)
    assert response.status_code == 302
    channel = BankChannel.objects.get(bank="ICBC")
    assert (channel.kind, channel.import_user_id, channel.in_dir) == ("folder", clerk.pk, str(tmp_path / "i"))
    assert AuditEvent.objects.filter(action="create", object_type__icontains="channel").count() == 1


def test_template_add_page(client, reviewer):
    import json

    client.force_login(reviewer)
    definition = {**builtin_definition("standard"), "delimiter": ","}
    response = client.post(reverse("bank:template_add"), {
        "code": "boc_comma", "name": "中国银行逗号", "definition": json.dumps(definition, ensure_ascii=False),
        "active": "on", "action": "save"})
    assert response.status_code == 302
    tpl = BankTemplate.objects.get(code="boc_comma")
    assert (tpl.version, tpl.definition["delimiter"], tpl.definition["code"]) == (1, ",", "boc_comma")


@pytest.mark.django_db(transaction=True)
def test_add_bank_posted_twice_at_once_adds_one():
    from shebao.payroll.tests.helpers import make_user

    reviewer = make_user("rev1", roles=("reviewer",))
    data = {"code": "HZB", "name": "杭州银行", "account_min_length": "16", "account_max_length": "19",
            "sort": "90", "active": "on"}
    barrier = threading.Barrier(2)
    statuses = []

    def post():
        c = Client()
        c.force_login(reviewer)
        try:
            barrier.wait()
            statuses.append(c.post(reverse("bank:bank_add"), data).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 302]  # the second shows the form with the refusal
    assert Bank.objects.filter(code="HZB").count() == 1
    assert AuditEvent.objects.filter(action="create", summary__contains="HZB").count() == 1

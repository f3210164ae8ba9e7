"""Templates as data, edited and versioned: a file sent is never changed by a template edit — it is
rendered again byte for byte from the version it names — while the next export uses the new version;
the preview renders a sample from a run with its byte widths."""

import datetime as dt
import hashlib
import json

import pytest
from django.urls import reverse

from shebao.bank.formats import builtin_definition
from shebao.bank.models import BankFile, BankTemplate, BankTemplateVersion
from shebao.bank.preview import bank_template_preview
from shebao.bank.services import BankError, bank_export, bank_file_render, bank_template_save
from shebao.common.masking import Masker
from shebao.common.models import AuditEvent

from .helpers import approved_run, make_person

pytestmark = pytest.mark.django_db
ON = dt.date(2026, 3, 18)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_edit_after_a_file_was_sent_makes_a_new_version_and_the_file_stays_reproducible(run, clerk, reviewer):
    standard = BankTemplate.objects.get(code="standard")
    first = bank_export(runs=[run], template=standard, user=clerk, on=ON)
    sent = {f.pk: (f.sha256, f.template_version.version) for f in first}
    assert {v for _, v in sent.values()} == {1}
    for f in first:
        assert _sha(bank_file_render(bank_file=f)) == f.sha256 == _sha(bytes(BankFile.objects.get(pk=f.pk).content))

    changed = {**standard.definition, "delimiter": ","}
    audits = AuditEvent.objects.count()
    saved = bank_template_save(code="standard", definition=changed, user=reviewer, note="银行改用逗号")
    assert saved.version == 2 and saved.definition["delimiter"] == ","
    assert list(BankTemplateVersion.objects.filter(template=saved).order_by("version")
                .values_list("version", "definition__delimiter")) == [(1, "|"), (2, ",")]
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == audits + 1
    assert (event.before["version"], event.after["version"]) == (1, 2) and "新版本 2" in event.summary

    for f in BankFile.objects.filter(pk__in=sent):  # the files sent: same version, same bytes
        again = bank_file_render(bank_file=f)
        assert (_sha(again), f.template_version.version) == sent[f.pk]
        assert b"|" in again and f.definition["delimiter"] == "|"

    later = approved_run([(make_person("孔乙己", "6222020000005555"), "66.60")], clerk, reviewer, period="2026-04")
    [new] = bank_export(runs=[later], template=BankTemplate.objects.get(code="standard"), user=clerk, on=ON)
    assert new.template_version.version == 2 and new.definition["delimiter"] == ","
    content = bytes(new.content)
    assert content.startswith(f"H,{new.batch_no},1,66.60,20260318\r\n".encode())
    assert _sha(bank_file_render(bank_file=new)) == new.sha256


def test_edit_of_a_version_no_file_used_corrects_it_in_place(reviewer):
    fixed = BankTemplate.objects.get(code="fixed_fen")
    definition = {**fixed.definition, "line_ending": "LF"}
    saved = bank_template_save(code="fixed_fen", definition=definition, user=reviewer)
    assert saved.version == 1
    assert BankTemplateVersion.objects.get(template=saved).definition["line_ending"] == "LF"


def test_a_new_template_and_a_wrong_one(reviewer):
    definition = {**builtin_definition("standard"), "delimiter": ";"}
    tpl = bank_template_save(code="nbcb_semicolon", definition=definition, user=reviewer, name="宁波银行分号",
                             create=True)
    assert (tpl.version, tpl.name, tpl.definition["code"]) == (1, "宁波银行分号", "nbcb_semicolon")
    assert BankTemplateVersion.objects.filter(template=tpl, version=1).exists()
    count = BankTemplate.objects.count()
    broken = {**builtin_definition("fixed_fen")}
    broken["payment"] = {**broken["payment"], "detail": broken["payment"]["detail"][:-1]}  # 119 bytes ≠ 120
    with pytest.raises(BankError) as exc:
        bank_template_save(code="broken", definition=broken, user=reviewer, create=True)
    assert "报盘各记录的字节长度须相同" in str(exc.value)
    with pytest.raises(BankError) as exc:
        bank_template_save(code="nbcb_semicolon", definition=definition, user=reviewer, create=True)
    assert str(exc.value) == "模板代码 nbcb_semicolon 已存在，请修改该模板"
    assert BankTemplate.objects.count() == count and not BankTemplate.objects.filter(code="broken").exists()


def test_preview_shows_gbk_byte_widths_and_masks_without_the_right(clerk, reviewer):
    person = make_person("欧阳娜娜", "6228480000000000017", bank="ABC")
    run = approved_run([(person, "888.88")], clerk, reviewer)
    files = BankFile.objects.count()
    preview = bank_template_preview(definition=builtin_definition("fixed_fen"), run=run, masker=Masker(False), on=ON)
    detail, trailer = preview.lines
    assert (detail.record, detail.length, trailer.record, trailer.length) == ("明细", 120, "尾", 120)
    name = next(s for s in detail.segments if s.label == "户名")
    assert (name.text.strip(), name.width, name.wanted) == ("欧阳娜娜", 20, 20)
    assert len("欧阳娜娜".encode("gbk")) == 8  # 4 characters, 8 bytes of the 20
    account = next(s for s in detail.segments if s.label == "账号")
    assert account.text.strip() == "6228***********0017" and account.width == 32
    amount = next(s for s in detail.segments if s.label == "金额")
    assert amount.text == "000000088888"
    assert trailer.segments[1].text.startswith("20260318ABC001")
    assert BankFile.objects.count() == files  # a preview writes nothing
    shown = bank_template_preview(definition=builtin_definition("fixed_fen"), run=run, masker=Masker(True), on=ON)
    assert next(s for s in shown.lines[0].segments if s.label == "账号").text.strip() == "6228480000000000017"


def test_template_pages_preview_then_save(client, clerk, reviewer, run):
    client.force_login(reviewer)
    url = reverse("bank:template_edit", args=["fixed_fen"])
    page = client.get(url).content.decode()
    assert "尚无文件使用此版本" in page
    definition = json.dumps(builtin_definition("fixed_fen"), ensure_ascii=False)
    page = client.post(url, {"name": "定长", "definition": definition, "active": "on", "run": run.pk,
                             "action": "preview"}).content.decode()
    assert 'id="preview-lines"' in page and "120" in page and "20/20" in page
    assert BankTemplate.objects.get(code="fixed_fen").name != "定长"  # the preview saved nothing
    page = client.post(url, {"name": "定长", "definition": "{oops", "action": "save"}).content.decode()
    assert "不是有效的 JSON" in page
    response = client.post(url, {"name": "定长", "definition": definition, "active": "on", "action": "save",
                                 "note": "改名"})
    assert response.status_code == 302 and response.url == reverse("bank:template_versions", args=["fixed_fen"])
    assert BankTemplate.objects.get(code="fixed_fen").name == "定长"
    page = client.get(response.url).content.decode()
    assert 'id="versions-table"' in page and "改名" in page
    client.force_login(clerk)
    assert client.get(url).status_code == 403


def test_migration_gives_each_file_the_version_of_its_own_definition(run, clerk, reviewer):
    """bank migration 0005 on a database of files written before versions: each distinct definition a
    file was written with becomes a version, in order of first use, the current definition last."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("shebao.bank.migrations.0006_template_versions")
    standard = BankTemplate.objects.get(code="standard")
    [abc, icbc] = bank_export(runs=[run], template=standard, user=clerk, on=ON)
    old = dict(standard.definition)
    BankFile.objects.filter(pk=icbc.pk).update(definition={**old, "delimiter": ";"})  # written before an edit
    BankTemplate.objects.filter(pk=standard.pk).update(definition={**old, "delimiter": ","}, version=1)
    BankFile.objects.update(template_version=None)
    BankTemplateVersion.objects.all().delete()
    migration.versions_from_files(apps, None)
    got = {v.version: v.definition["delimiter"] for v in BankTemplateVersion.objects.filter(template=standard)}
    assert got == {1: "|", 2: ";", 3: ","}
    assert BankTemplate.objects.get(pk=standard.pk).version == 3
    assert BankFile.objects.get(pk=abc.pk).template_version.version == 1
    assert BankFile.objects.get(pk=icbc.pk).template_version.version == 2
    assert {t.code: t.version for t in BankTemplate.objects.exclude(pk=standard.pk)} == {"fixed_fen": 1, "xlsx": 1}

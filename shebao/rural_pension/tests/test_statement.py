"""The 结算单 PDF: A4, the CJK font embedded, the text a reader extracts is the Chinese we wrote, masking
per the viewer, a reprint marked 补打. Rasterised with pdftoppm (the PNG is kept in test-artifacts/)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from shebao.common.masking import Masker
from shebao.common.models import AuditEvent
from shebao.rural_pension.services import rural_document_pdf, rural_refund_settle, rural_years_recompute
from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, make_user, set_rates

pytestmark = pytest.mark.django_db
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "rural"


def _text(pdf: bytes, tmp_path: Path) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) not installed")
    src = tmp_path / "s.pdf"
    src.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(src), "-"], capture_output=True, check=True)
    return out.stdout.decode("utf-8")


@pytest.fixture
def document(db):
    set_rates()
    clerk = make_user("nb_print")
    clerk.full_name = "陈丽萍"  # the statement names the operator by User.full_name, not by the login
    clerk.save()
    account = make_account(flows=HAND_FLOWS)
    rural_years_recompute()
    return rural_refund_settle(account=account, on=timezone.localdate(), pay_method="bank", user=clerk)


def test_statement_pdf(document, tmp_path):
    user = document.operator
    pdf = rural_document_pdf(document=document, user=user, masker=Masker(can_view=False))
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf  # a TrueType font program is embedded
    assert re.search(rb"/MediaBox \[ ?0 0 595\.27\d* 841\.88\d* ?\]", pdf)  # A4
    text = _text(pdf, tmp_path)
    for fragment in ["慈溪市社会保险管理服务中心", "老农保退保结算单", document.number, "王阿大", "330282********",
                     "个人年账户明细", "退款金额（大写）", "经办人签字", "审核人签字", "领款人签字", "陈丽萍"]:
        assert fragment in text, fragment
    assert document.account.person.id_number not in text  # masked for a viewer without the right
    assert "补打" not in text
    from shebao.common.money import amount_in_words

    assert amount_in_words(document.amount) in text.replace(" ", "")
    assert "nb_print" not in text  # not the login name
    # looking again is not a reprint: a 副本, not counted
    again = _text(rural_document_pdf(document=document, user=user, masker=Masker(can_view=False)), tmp_path)
    assert "副本" in again and "补打" not in again
    document.refresh_from_db()
    assert document.printed_count == 1
    # a reprint asked for: counted, audited, marked 补打
    reprint = rural_document_pdf(document=document, user=user, masker=Masker(can_view=True), reprint=True)
    text2 = _text(reprint, tmp_path)
    assert "补打" in text2 and document.account.person.id_number in text2
    document.refresh_from_db()
    assert document.printed_count == 2
    assert AuditEvent.objects.filter(action="rural_print").count() == 2
    assert AuditEvent.objects.filter(action="rural_print", summary__endswith="（补打）").count() == 1
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "settlement.pdf").write_bytes(reprint)
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", str(ARTIFACTS / "settlement.pdf"),
                        str(ARTIFACTS / "settlement")], check=True)
        assert (ARTIFACTS / "settlement.png").stat().st_size > 10_000

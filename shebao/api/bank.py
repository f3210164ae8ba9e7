"""银行专线接口 over the API: payment files sent (list, detail, download of the kept bytes) and return
files (list, import). Thin: parse, check, call a selector or the service, shape the answer.

The rules are the bank pages' (``shebao.bank.views``, which take the payroll pages' rules):
- read: the payroll pages' reading rule (``shebao.api.payroll.VIEW``) in a scheme of the file's runs
  (as the pages: lists hold the files paying a run of one of the caller's schemes; a file of none of
  them → 403);
- download: the file's bytes hold every payee's full 身份证号 and account number, so it needs
  ``bank.download_file`` (until the permission exists: ``payroll.export_run``) and 全市范围, in every
  scheme of the file's runs; every download is written to the audit trail;
- return import: ``payroll.export_run``, county-wide (a file pays persons of every town), in the
  schemes of the file it answers.

A return is imported as the page imports it: first the import's own whole-file check
(``bank_return_check``, writing nothing: the batch number must name a file sent, every line must
match a sent line by sequence, account and amount, none returned before, the totals must add up),
then ``bank_return_import``. A refused file is a 400 whose ``detail`` names each bad line and
reason in Chinese, and nothing is written. The same bytes sent again change nothing (200 with
``created: false`` and the first import). Synchronous: 2 s at 80,000 lines, 20 s at 800,000."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any
from urllib.parse import quote

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile

from shebao.accounts import roles
from shebao.accounts.roles import PAYROLL_EXPORT
from shebao.api.fields import TEXT, Money, Month, bank_label
from shebao.api.pagination import DEFAULT_PAGE_SIZE, page_of
from shebao.api.payroll import VIEW
from shebao.api.permissions import require
from shebao.bank.formats import BankFileError
from shebao.bank.models import BankFile
from shebao.bank.selectors import bank_file_list, bank_template_get, return_file_list
from shebao.bank.services import BankError, bank_return_check, bank_return_import
from shebao.common import policy
from shebao.common.audit import audit_record
from shebao.common.policy import rule
from shebao.payroll.services import PayrollError

router = Router(tags=["银行专线接口"])

# The download right ``bank.download_file`` (下载报盘文件, ``roles.BANK_DOWNLOAD``) where it is defined (the
# permission work adds it); until then the 报盘 right. Both are the clerks', with 全市范围: the file holds
# every payee's full numbers. TODO: name BANK_DOWNLOAD directly once every branch has it.
DOWNLOAD = rule(getattr(roles, "BANK_DOWNLOAD", PAYROLL_EXPORT), county=True, note="文件含全部收款人的完整身份证号和账号")
IMPORT = rule(PAYROLL_EXPORT, county=True, note="回盘涉及全市人员")

FILE_MISSING = "报盘文件不存在"


# --------------------------------------------------------------------------------------------------
# shapes


class RunRef(Schema):
    id: int
    scheme: str
    period: Month
    kind: str
    state: str


class TemplateRef(Schema):
    code: str
    name: str


class FileOut(Schema):
    id: int
    batch_no: str
    template: TemplateRef
    bank: str
    bank_label: str
    file_date: dt.date
    file_name: str
    sha256: str
    line_count: int
    total: Money
    created_by_name: str
    created_at: dt.datetime
    run_ids: list[int]
    return_count: int = Field(..., description="已导入的回盘文件数")
    ok_count: int = Field(..., description="回盘成功笔数")
    ok_total: Money | None = None
    failed_count: int = Field(..., description="回盘失败笔数")
    failed_total: Money | None = None

    @staticmethod
    def resolve_bank_label(obj) -> str:
        return bank_label(obj.bank)

    @staticmethod
    def resolve_run_ids(obj) -> list[int]:
        return sorted(r.pk for r in obj.runs.all())


class FilePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[FileOut]


class ReturnOut(Schema):
    id: int
    bank_file_id: int
    batch_no: str
    file_name: str
    sha256: str
    line_count: int
    ok_count: int
    ok_total: Money
    failed_count: int
    failed_total: Money
    imported_by: str
    imported_at: dt.datetime

    @staticmethod
    def resolve_batch_no(obj) -> str:
        return obj.bank_file.batch_no

    @staticmethod
    def resolve_imported_by(obj) -> str:
        return obj.imported_by.display_name


class ReturnPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ReturnOut]


class FileDetail(FileOut):
    runs: list[RunRef]
    returns: list[ReturnOut]

    @staticmethod
    def resolve_runs(obj) -> list[dict]:
        return [{"id": r.pk, "scheme": r.scheme.code, "period": r.period, "kind": r.kind, "state": r.state}
                for r in sorted(obj.runs.all(), key=lambda r: r.pk)]

    @staticmethod
    def resolve_returns(obj) -> list:
        return obj.returns_list


class RunOutcome(Schema):
    run_id: int
    state: str
    paid: int = Field(..., description="本次回盘成功笔数")
    failed: int = Field(..., description="本次回盘失败笔数")


class ReturnImportOut(Schema):
    created: bool = Field(..., description="false：同一文件此前已导入，本次未做任何更改")
    note: str
    return_file: ReturnOut
    runs: list[RunOutcome]


# --------------------------------------------------------------------------------------------------
# scope


def _of_user_schemes(qs, user, file_field: str):
    """``qs`` limited to files (through ``file_field``) paying a run of one of the caller's schemes —
    what the bank pages list (``bank.selectors``)."""
    codes = policy.schemes_of(user)
    if codes is None:
        return qs
    runs = BankFile.runs.through.objects.filter(bankfile_id=OuterRef(file_field), payrollrun__scheme__code__in=codes)
    return qs.filter(Exists(runs))


def _returns(**filters):
    """Return files (``return_file_list``) without the bytes of the payment file each answers (its
    ``select_related`` would read every payment file whole: 66 MB at 800,000 lines)."""
    return return_file_list(**filters).defer("bank_file__content", "bank_file__definition")


def returns_in_scope(user, **filters):
    return _of_user_schemes(_returns(**filters), user, "bank_file_id")


def files_in_scope(user):
    return _of_user_schemes(bank_file_list(), user, "pk")


def _file(request, file_id: int, access, *, every: bool) -> BankFile:
    """The file, once the caller passes ``access`` in its runs' schemes — in ``every`` one of them to
    act on its bytes (download, return), in one of them to read it (as the pages): missing → 404,
    none of the caller's schemes → 403."""
    bank_file = bank_file_list().prefetch_related("runs__scheme").filter(pk=file_id).first()
    if bank_file is None:
        raise HttpError(404, FILE_MISSING)
    codes = sorted({r.scheme.code for r in bank_file.runs.all()}) or [None]
    if every or not any(policy.allows(request.auth, access, scheme=code) for code in codes):
        for code in codes:
            require(request, access, scheme=code)
    return bank_file


# --------------------------------------------------------------------------------------------------
# files sent


@router.get("/files", response=FilePage, summary="报盘文件列表（含回盘情况）")
def files_list(
    request,
    bank: str | None = Query(None, max_length=10, pattern=TEXT, description="开户银行代码，如 ICBC"),
    run: int | None = Query(None, description="含此结算批次"),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW)
    qs = files_in_scope(request.auth).prefetch_related("runs")
    if bank:
        qs = qs.filter(bank=bank.strip().upper())
    if run is not None:
        qs = qs.filter(runs__pk=run)
    if date_from:
        qs = qs.filter(file_date__gte=date_from)
    if date_to:
        qs = qs.filter(file_date__lte=date_to)
    return page_of(qs, page=page, page_size=page_size)


@router.get("/files/{int:file_id}", response=FileDetail, summary="报盘文件详情（结算批次、回盘）")
def files_detail(request, file_id: int):
    require(request, VIEW)
    bank_file = _file(request, file_id, VIEW, every=False)
    bank_file.returns_list = list(returns_in_scope(request.auth, bank_file=bank_file))
    return bank_file


@router.get(
    "/files/{int:file_id}/download", summary="下载报盘文件（原样字节，含完整号码；每次下载记入审计日志）",
    response={200: None},
    openapi_extra={"responses": {"200": {"description": "文件原样字节（X-Content-SHA256 为其校验和）",
                                         "content": {"application/octet-stream": {}}}}},
)
def files_download(request, file_id: int):
    require(request, DOWNLOAD)
    listed = _file(request, file_id, DOWNLOAD, every=True)
    bank_file = BankFile.objects.only("pk", "file_name", "content", "sha256").get(pk=listed.pk)
    content = bytes(bank_file.content)
    with transaction.atomic():
        audit_record(user=request.auth, action="bank_file_download", obj=bank_file,
                     summary=f"下载报盘文件 {listed.batch_no}（{listed.line_count} 笔，{listed.total} 元）"[:300],
                     after={"batch_no": listed.batch_no, "file_name": listed.file_name, "sha256": listed.sha256,
                            "via": "api"})
    ctype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
             if bank_file.file_name.endswith(".xlsx") else "application/octet-stream")
    response = HttpResponse(content, content_type=ctype)
    response["Content-Disposition"] = (f"attachment; filename=\"{quote(bank_file.file_name)}\"; "
                                       f"filename*=UTF-8''{quote(bank_file.file_name)}")
    response["X-Content-SHA256"] = bank_file.sha256
    return response


# --------------------------------------------------------------------------------------------------
# returns


@router.get("/returns", response=ReturnPage, summary="回盘文件列表")
def returns_list(
    request,
    bank_file: int | None = Query(None, description="报盘文件编号"),
    page: int = Query(1, ge=1),
    page_size: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=200),
):
    require(request, VIEW)
    qs = returns_in_scope(request.auth)
    if bank_file is not None:
        qs = qs.filter(bank_file_id=bank_file)
    return page_of(qs, page=page, page_size=page_size)


def _answered_file_id(data: bytes, template, digest: str) -> int:
    """The payment file a return answers, found by the import's own whole-file check (writing nothing).
    When the check refuses the file because the same bytes were imported meanwhile (another request,
    between our look-up and the check), that import's file: the import then answers "already"."""
    try:
        return bank_return_check(data=data, template=template).bank_file.pk
    except BankFileError:
        seen = _returns().filter(sha256=digest).first()
        if seen is None:
            raise
        return seen.bank_file_id


def _outcomes(runs: dict[Any, dict]) -> list[dict]:
    return [{"run_id": int(k), "state": v["state"], "paid": v["paid"], "failed": v["failed"]}
            for k, v in sorted(runs.items(), key=lambda kv: int(kv[0]))]


@router.post(
    "/returns", response={200: ReturnImportOut, 201: ReturnImportOut},
    summary="导入回盘文件（整份校验，不通过则不写入任何数据）",
)
def returns_import(
    request,
    file: Annotated[UploadedFile, File(description="银行回盘文件")],
    template: Annotated[str | None, Form(max_length=30, pattern=TEXT, description="银行模板代码；不填则按报盘时的模板识别")] = None,
):
    """201 with the return and each run's outcome; 200 with ``created: false`` when the same bytes were
    imported before (nothing changed); 400 when the file is refused (the reason names each line)."""
    require(request, IMPORT)
    data = file.read()
    name = (file.name or "return.txt")[:200]
    chosen = None
    if template:
        try:
            chosen = bank_template_get(template.strip())
        except LookupError as exc:
            raise HttpError(422, f"请求数据有误：template：{exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    seen = _returns().filter(sha256=digest).first()
    try:
        _file(request, seen.bank_file_id if seen is not None else _answered_file_id(data, chosen, digest), IMPORT,
              every=True)
        result = bank_return_import(data=data, filename=name, user=request.auth, template=chosen)
    except (BankFileError, BankError, PayrollError) as exc:
        raise HttpError(400, str(exc)) from None
    rf = _returns().get(pk=result.return_file.pk)
    body = {"created": result.created, "note": result.note, "return_file": rf, "runs": _outcomes(result.runs)}
    return Status(201 if result.created else 200, body)

"""银行专线接口: bank templates (layouts as data), payment files sent (报盘) with their lines, and the
return files (回盘) with each line's outcome. Files are kept whole (bytes + sha256) for as long as
the system lives: what was sent is always provable."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from shebao.common.dbfields import MONEY


class BankTemplate(models.Model):
    """A bank's file layout. ``definition`` is the JSON described in ``shebao.bank.formats``; the
    shipped ones (``builtin``) are seeded by migration, a new bank is a new row. ``definition`` is the
    current version's (``version``); every version is kept in ``BankTemplateVersion`` and a version a
    file was written with is never changed (an edit after that makes the next version)."""

    code = models.CharField(_("模板代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    definition = models.JSONField(_("定义"))
    version = models.PositiveIntegerField(_("当前版本"), default=1)
    builtin = models.BooleanField(_("系统内置"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("银行模板")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def engine(self):
        from shebao.bank.formats import Template

        return Template(self.definition)


class BankTemplateVersion(models.Model):
    """One version of a template's definition. Written by ``bank_template_save`` only: a version no file
    was written with may be corrected in place; once a file names it, it is frozen and an edit makes the
    next version — so a file can always be rendered again, byte for byte, from its version."""

    template = models.ForeignKey(BankTemplate, on_delete=models.PROTECT, related_name="versions",
                                 verbose_name=_("模板"))
    version = models.PositiveIntegerField(_("版本"))
    definition = models.JSONField(_("定义"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True, verbose_name=_("修改人"))  # empty: seeded
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("银行模板版本")
        ordering = ["template", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="banktemplateversion_unique"),
            models.CheckConstraint(condition=Q(version__gte=1), name="banktemplateversion_from_1"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.version}"


class BankFile(models.Model):
    """One payment file (报盘) for one bank. A payroll line goes into at most one file; exporting the
    same runs again returns this file (same bytes), never a second payment."""

    batch_no = models.CharField(_("批次号"), max_length=20, unique=True)  # YYYYMMDD + bank + NNN
    template = models.ForeignKey(BankTemplate, on_delete=models.PROTECT, related_name="files",
                                 verbose_name=_("模板"))
    definition = models.JSONField()  # the template as it was when written: its return is read with it
    # the template version it was written with (its definition equals ``definition``); empty only for a
    # file of a database that predates versions and had no matching version (see bank migration 0005)
    template_version = models.ForeignKey(BankTemplateVersion, on_delete=models.PROTECT, related_name="files",
                                         null=True, blank=True, verbose_name=_("模板版本"))
    bank = models.CharField(_("开户银行"), max_length=10)  # registry.Bank code
    file_date = models.DateField(_("报盘日期"))
    file_name = models.CharField(_("文件名"), max_length=100)
    content = models.BinaryField(_("文件内容"))
    sha256 = models.CharField(_("校验和"), max_length=64)
    line_count = models.PositiveIntegerField(_("笔数"))
    total = models.DecimalField(_("总金额"), **MONEY)
    runs = models.ManyToManyField("payroll.PayrollRun", related_name="+", verbose_name=_("结算批次"))
    # empty when written from the command line without --as; created_by_name then says who ran it
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True, verbose_name=_("经办人"))
    created_by_name = models.CharField(_("经办人"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("生成时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("报盘文件")
        ordering = ["-id"]
        # the file's bytes hold every payee's full 身份证号 and account: a right of its own (the clerk
        # role), and each download is audited
        permissions = [("download_file", _("下载报盘文件（含完整账号）"))]
        constraints = [
            models.CheckConstraint(condition=Q(line_count__gte=1) & Q(total__gt=0), name="bankfile_nonempty"),
        ]

    def __str__(self) -> str:
        return self.batch_no


# The line tables' references are not checked by the database (db_constraint=False), like payroll
# lines (see payroll migration 0002): their rows are written only by bank_export / bank_return_import
# with INSERT … SELECT (or COPY) of the rows they reference, in the same transaction, and nothing here
# is ever deleted. PostgreSQL checks a foreign key row by row at commit: 4–5 s of an 80,000-line
# export or return import on this machine (bench profile), several times the statement itself.
# Uniqueness (one file per payroll line, one outcome per sent line) stays enforced by the database.


# A file line's sent values and the payroll line columns they are read from. The payroll line's account,
# 户名, 身份证号, name and 实发 are its snapshot, made when the run is computed and never changed (a
# re-issue is a new line in a new run); the file line adds only where the payment stands in which file.
# Through a relation (``ReturnLine.bank_file_line``) forward access uses the base manager (``objects``,
# annotated); ``select_related("bank_file_line")`` does not annotate: read ``…__payroll_line__…`` there.
SENT_SNAPSHOT = {"amount": "net", "account_number": "account_number", "holder_name": "holder_name",
                 "id_number": "id_number", "name": "name"}


class BankFileLineManager(models.Manager):
    """File lines with what was sent under the names a file line has always shown (``amount``,
    ``account_number``, ``holder_name``, ``id_number``, ``name``): the payroll line's snapshot, read
    through its row (see ``BankFileLine``)."""

    def get_queryset(self):
        return super().get_queryset().annotate(**{name: F(f"payroll_line__{source}")
                                                  for name, source in SENT_SNAPSHOT.items()})


class BankFileLine(models.Model):
    """One payment in a file: which payroll line, in which file, at which sequence. What it was sent as
    (amount, account, 户名, 身份证号, name) is the payroll line's snapshot, which never changes once made —
    read under those names through ``objects`` (``SENT_SNAPSHOT``); the file's stored bytes hold it too.
    Keyed by the payroll line itself (a line goes into at most one file): an 80,000-line export writes
    three integers per line into two indexes, while the file is rendered (``services._write_file``)."""

    payroll_line = models.OneToOneField("payroll.PayrollLine", on_delete=models.PROTECT, primary_key=True,
                                        related_name="+", verbose_name=_("结算明细"), db_constraint=False)
    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="lines", db_index=False,
                                  db_constraint=False)
    seq = models.PositiveIntegerField(_("序号"))  # 1..n within the file

    plain = models.Manager()  # the line alone (which file, where): for existence checks, without the join
    objects = BankFileLineManager()  # the default (Meta): with the sent values

    class Meta:
        verbose_name = _("报盘明细")
        ordering = ["bank_file", "seq"]
        default_manager_name = base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["bank_file", "seq"], name="bankfileline_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_file_id}#{self.seq} {self.payroll_line_id}"


class ReturnFile(models.Model):
    """A bank's return file (回盘), accepted whole. The same bytes imported twice are recognised by
    their sha256 and change nothing."""

    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="returns",
                                  verbose_name=_("报盘文件"))
    sha256 = models.CharField(_("校验和"), max_length=64)
    file_name = models.CharField(_("文件名"), max_length=200)
    content = models.BinaryField(_("文件内容"))
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("导入人"))
    imported_at = models.DateTimeField(_("导入时间"), auto_now_add=True)
    line_count = models.PositiveIntegerField(_("笔数"))
    ok_count = models.PositiveIntegerField(_("成功笔数"))
    ok_total = models.DecimalField(_("成功金额"), **MONEY)
    failed_count = models.PositiveIntegerField(_("失败笔数"))
    failed_total = models.DecimalField(_("失败金额"), **MONEY)

    class Meta:
        verbose_name = _("回盘文件")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["bank_file", "sha256"], name="returnfile_unique_content"),
            models.CheckConstraint(condition=Q(line_count=models.F("ok_count") + models.F("failed_count")),
                                   name="returnfile_counts"),
        ]
        indexes = [models.Index(fields=["sha256"])]

    def __str__(self) -> str:
        return f"{self.bank_file_id} {self.file_name}"


class ReturnLine(models.Model):
    """The bank's outcome for one sent line. A sent line has at most one outcome."""

    return_file = models.ForeignKey(ReturnFile, on_delete=models.PROTECT, related_name="lines", db_index=False,
                                    db_constraint=False)
    bank_file_line = models.OneToOneField(BankFileLine, on_delete=models.PROTECT, related_name="return_line",
                                          verbose_name=_("报盘明细"), db_constraint=False)
    line_no = models.PositiveIntegerField(_("行号"))  # where it stands in the return file
    processed_amount = models.DecimalField(_("实处理金额"), **MONEY)
    ok = models.BooleanField(_("成功"))
    status_code = models.CharField(_("处理标志"), max_length=10)
    reason = models.CharField(_("原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("回盘明细")
        ordering = ["return_file", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["return_file", "line_no"], name="returnline_unique_line"),
            models.CheckConstraint(condition=(Q(ok=True) & Q(processed_amount__gt=0))
                                   | (Q(ok=False) & Q(processed_amount=0)), name="returnline_amount_ok"),
        ]

    def __str__(self) -> str:
        return f"{self.return_file_id}:{self.line_no} {'成功' if self.ok else '失败'}"


class BankChannel(models.Model):
    """How files travel to and from one bank over the 专线: a folder (a share of the bank's front-end
    machine mounted here) or SFTP. Payment files are delivered into ``out_dir``; the bank's return files
    are picked up from ``in_dir`` (imported ones move to ``in_dir/imported/``, refused ones to
    ``in_dir/rejected/`` with a ``.reason.txt`` beside them). No secret is stored here: an SFTP password
    (or a key's passphrase) is read at connection time from the environment variable ``password_env``
    or the file ``password_file``; the server's host key must match ``host_key_fingerprint``."""

    class Kind(models.TextChoices):
        FOLDER = "folder", _("共享目录")
        SFTP = "sftp", _("SFTP")

    bank = models.CharField(_("开户银行"), max_length=10, unique=True)  # registry Bank.code
    kind = models.CharField(_("方式"), max_length=10, choices=Kind.choices)
    active = models.BooleanField(_("启用"), default=True)
    out_dir = models.CharField(_("报盘发送目录"), max_length=300)
    in_dir = models.CharField(_("回盘接收目录"), max_length=300)
    host = models.CharField(_("主机"), max_length=200, blank=True)
    port = models.PositiveIntegerField(_("端口"), default=22)
    username = models.CharField(_("用户名"), max_length=100, blank=True)
    key_path = models.CharField(_("私钥文件"), max_length=300, blank=True)
    password_env = models.CharField(_("口令环境变量"), max_length=100, blank=True)
    password_file = models.CharField(_("口令文件"), max_length=300, blank=True)
    host_key_fingerprint = models.CharField(_("主机指纹"), max_length=100, blank=True)  # "SHA256:…" as ssh shows
    # who the pick-up imports returns as (the audit names them; they must hold the return-import right)
    import_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True, verbose_name=_("导入身份"))
    notes = models.CharField(_("说明"), max_length=200, blank=True)
    # 自动发送: the periodic job delivers every payment file of this bank written since ``auto_since``
    # (set when it was switched on: files older than that were delivered some other way and are never sent)
    auto_deliver = models.BooleanField(_("自动发送"), default=False)
    auto_since = models.DateTimeField(_("自动发送起始时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("传输通道")
        ordering = ["bank"]
        constraints = [
            models.CheckConstraint(condition=Q(kind="folder") | (~Q(host="") & ~Q(username="")
                                                                 & ~Q(host_key_fingerprint="")),
                                   name="bankchannel_sftp_complete"),
        ]

    def __str__(self) -> str:
        return f"{self.bank} {self.get_kind_display()}"


class BankTransfer(models.Model):
    """The transfer log: every file delivered to or picked up from a bank, with what became of it."""

    class Direction(models.TextChoices):
        OUT = "out", _("发送")
        IN = "in", _("接收")

    class Outcome(models.TextChoices):
        SENT = "sent", _("已发送")
        IMPORTED = "imported", _("已导入")
        SKIPPED = "skipped", _("已导入过，跳过")
        REJECTED = "rejected", _("被拒绝")
        FAILED = "failed", _("传输失败")

    channel = models.ForeignKey(BankChannel, on_delete=models.PROTECT, related_name="transfers",
                                verbose_name=_("传输通道"))
    bank = models.CharField(_("开户银行"), max_length=10)
    direction = models.CharField(_("方向"), max_length=3, choices=Direction.choices)
    file_name = models.CharField(_("文件名"), max_length=200, blank=True)  # empty: the connection failed
    size = models.BigIntegerField(_("字节数"), null=True, blank=True)
    sha256 = models.CharField(_("校验和"), max_length=64, blank=True)
    outcome = models.CharField(_("结果"), max_length=10, choices=Outcome.choices)
    message = models.TextField(_("说明"), blank=True)
    at = models.DateTimeField(_("时间"), auto_now_add=True)
    bank_file = models.ForeignKey(BankFile, on_delete=models.PROTECT, related_name="transfers", null=True,
                                  blank=True, verbose_name=_("报盘文件"))
    return_file = models.ForeignKey(ReturnFile, on_delete=models.PROTECT, related_name="transfers", null=True,
                                    blank=True, verbose_name=_("回盘文件"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True,
                             blank=True, verbose_name=_("操作人"))

    class Meta:
        verbose_name = _("传输记录")
        ordering = ["-at", "-id"]
        constraints = [
            # a payment file reaches its bank once: a second delivery is refused by the database too
            models.UniqueConstraint(fields=["bank_file"], condition=Q(direction="out", outcome="sent"),
                                    name="banktransfer_one_delivery"),
        ]
        indexes = [models.Index(fields=["sha256"])]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.file_name} {self.get_outcome_display()}"

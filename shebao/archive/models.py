"""原遗留养老系统 archive metadata: each load of a legacy system's dump and the tables it brought.

The archived rows are NOT here: each declared table is a PostgreSQL table in the schema ``archive``
(``shebao.archive.ddl``), created by the load and never changed after it — a statement trigger refuses
every INSERT, UPDATE, DELETE and TRUNCATE outside the load itself. ``archive.person`` and
``archive.person_row`` index every row by its person (身份证号 as its first 17 characters, so a 15-digit
number meets its 18-digit form) for the person search."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ArchiveLoad(models.Model):
    """One ``shebao archive load DIR``: a legacy system's tables with their dictionary, all or nothing."""

    name = models.CharField(_("来源目录"), max_length=300)
    sha256 = models.CharField(_("校验和"), max_length=64, unique=True)  # of the dictionary and every data file
    tables = models.PositiveIntegerField(_("表数"), default=0)
    rows = models.BigIntegerField(_("行数"), default=0)
    persons = models.BigIntegerField(_("人数"), default=0)  # new 身份证号 this load brought
    codes = models.JSONField(_("代码值"), default=dict)  # {代码类别: {代码值: 含义}}
    seconds = models.FloatField(_("用时（秒）"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("装载时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("档案装载")
        ordering = ["-id"]
        permissions = [("view_archive", _("查阅原遗留养老系统档案")),
                       ("load_archive", _("装载原遗留养老系统档案"))]

    def __str__(self) -> str:
        return f"档案装载 {self.pk}"


class ArchiveTable(models.Model):
    """A table of the archive: ``archive.<name>``. ``columns``: the dictionary's columns in order, each
    ``{"name", "label", "type", "pg", "code_category", "note", "mask"}`` (``mask``: id_number, account,
    phone, address or ""). ``id_column``/``name_column``/``pno_column``: what the person index read."""

    load = models.ForeignKey(ArchiveLoad, on_delete=models.PROTECT, related_name="table_set")
    name = models.CharField(_("表名"), max_length=50, unique=True)  # lower case; the physical table's name
    label = models.CharField(_("中文名"), max_length=100, blank=True)
    note = models.TextField(_("说明"), blank=True)
    primary_key = models.JSONField(_("主键"), default=list)
    columns = models.JSONField(_("字段"), default=list)
    rows = models.BigIntegerField(_("行数"), default=0)
    id_column = models.CharField(_("身份证号字段"), max_length=50, blank=True)
    name_column = models.CharField(_("姓名字段"), max_length=50, blank=True)
    pno_column = models.CharField(_("个人编号字段"), max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("档案表")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

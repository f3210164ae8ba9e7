"""回流库 metadata: sources, the data dictionary (tables, columns, code values), loads with their bad
rows, audit rules and their findings, saved queries and the console's log.

The landed data itself is NOT here: each declared table is a PostgreSQL table in the schema
``warehouse`` (``shebao.warehouse.ddl``), created and altered from the dictionary at load time, so IT
adds a shared table without a release."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.Model):
    """Where shared data comes from (省, 宁波, …): each has its own dictionary and code values."""

    name = models.CharField(_("来源"), max_length=40, unique=True)
    code = models.CharField(_("代号"), max_length=20, unique=True)  # prefix of its physical tables
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("回流数据来源")
        ordering = ["id"]
        permissions = [
            ("view_wh", _("查看回流库数据字典和装载")),
            ("load_wh", _("装载回流数据、维护数据字典")),
            ("audit_wh", _("运行审核、处理审核结果")),
            ("query_wh", _("运行保存的查询和分组汇总")),
            ("console_wh", _("回流库 SQL 控制台（信息科）")),
        ]

    def __str__(self) -> str:
        return self.name


class Element(models.Model):
    """A common 人社 data element (AAC002 公民身份号码 …): a column of any source named by its code takes
    its Chinese name, type and code category when the dictionary leaves them blank. ``role`` marks the
    elements the cross-checks look for."""

    code = models.CharField(_("数据元"), max_length=30, unique=True)
    name = models.CharField(_("中文名"), max_length=60)
    type = models.CharField(_("类型"), max_length=40)
    code_category = models.CharField(_("代码类别"), max_length=30, blank=True)
    role = models.CharField(_("用途"), max_length=20, blank=True)  # id_number, name, death_date, month, amount …
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("人社数据元")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class WhTable(models.Model):
    class Purpose(models.TextChoices):
        NONE = "", _("一般")
        DEATH = "death", _("死亡")
        PAYMENT = "payment", _("待遇发放")
        ACTIVITY = "activity", _("活动")

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="tables")
    name = models.CharField(_("表名"), max_length=50)  # as declared, lower case
    physical = models.CharField(_("物理表名"), max_length=63, unique=True)  # in schema warehouse
    label = models.CharField(_("中文名"), max_length=100, blank=True)
    note = models.TextField(_("说明"), blank=True)
    primary_key = models.JSONField(_("主键"), default=list)  # column names, in order
    partitions = models.PositiveSmallIntegerField(_("分区数"), default=0)  # HASH of the first key column; 0 = none
    purpose = models.CharField(_("用途"), max_length=10, choices=Purpose.choices, blank=True, default="")
    activity_column = models.CharField(_("活动日期字段"), max_length=50, blank=True)
    retired = models.BooleanField(_("已不在字典中"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("回流表")
        ordering = ["source_id", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "name"], name="whtable_unique_name")]

    def __str__(self) -> str:
        return f"{self.source.name}.{self.name}"


class WhColumn(models.Model):
    table = models.ForeignKey(WhTable, on_delete=models.CASCADE, related_name="columns")
    position = models.PositiveIntegerField(_("序号"))
    name = models.CharField(_("字段名"), max_length=50)  # lower case identifier
    label = models.CharField(_("中文名"), max_length=100, blank=True)
    source_type = models.CharField(_("类型"), max_length=40)  # as declared: VARCHAR2(18), NUMBER(14,2) …
    pg_type = models.CharField(_("PostgreSQL 类型"), max_length=40)
    code_category = models.CharField(_("代码类别"), max_length=30, blank=True)
    note = models.TextField(_("说明"), blank=True)
    retired = models.BooleanField(_("已不在字典中"), default=False)  # kept: it holds data

    class Meta:
        verbose_name = _("回流字段")
        ordering = ["table_id", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["table", "name"], name="whcolumn_unique_name")]

    def __str__(self) -> str:
        return self.name


class CodeValue(models.Model):
    """A code table entry of one source; ``source`` None = the common 人社 codes (AAC004 性别 …)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, null=True, blank=True, related_name="codes")
    category = models.CharField(_("代码类别"), max_length=30)
    value = models.CharField(_("代码值"), max_length=30)
    meaning = models.CharField(_("含义"), max_length=100)

    class Meta:
        verbose_name = _("代码值")
        ordering = ["category", "value"]
        constraints = [
            models.UniqueConstraint(fields=["source", "category", "value"], name="codevalue_unique",
                                    nulls_distinct=False),
        ]

    def __str__(self) -> str:
        return f"{self.category}={self.value}"



class DictionaryLoad(models.Model):
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(_("文件"), max_length=300)
    summary = models.JSONField(_("结果"), default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("数据字典装载")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"数据字典装载 {self.pk}"



class Load(models.Model):
    """One file landed (or refused) into one table: counts, and every bad row in ``LoadError``."""

    class State(models.TextChoices):
        DONE = "done", _("已装载")
        REJECTED = "rejected", _("已拒绝")

    class Mode(models.TextChoices):
        FULL = "full", _("全量")
        INCREMENTAL = "incremental", _("增量")

    table = models.ForeignKey(WhTable, on_delete=models.PROTECT, related_name="loads")
    mode = models.CharField(_("方式"), max_length=12, choices=Mode.choices)
    state = models.CharField(_("状态"), max_length=10, choices=State.choices)
    file_name = models.CharField(_("文件"), max_length=300)
    sha256 = models.CharField(max_length=64)
    read = models.BigIntegerField(_("读入"), default=0)
    inserted = models.BigIntegerField(_("新增"), default=0)
    updated = models.BigIntegerField(_("更新"), default=0)
    deleted = models.BigIntegerField(_("删除"), default=0)
    rejected = models.BigIntegerField(_("拒绝"), default=0)
    message = models.TextField(_("说明"), blank=True)
    seconds = models.FloatField(_("耗时（秒）"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(_("装载时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("回流数据装载")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"装载批次 {self.pk}"

    def counts(self) -> dict:
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated, "deleted": self.deleted,
                "rejected": self.rejected}



class LoadError(models.Model):
    load = models.ForeignKey(Load, on_delete=models.CASCADE, related_name="errors")
    line = models.BigIntegerField(_("记录"))  # the record's number in the file (1 = first after the header)
    column = models.CharField(_("字段"), max_length=50, blank=True)
    reason = models.CharField(_("原因"), max_length=300)

    class Meta:
        verbose_name = _("装载错误")
        ordering = ["load_id", "line", "id"]

    def __str__(self) -> str:
        return f"{self.line}: {self.reason}"



class AuditRule(models.Model):
    """A check over landed data: a built-in kind attached to a column, or read-only SQL by IT that
    returns rows (``id_number``, ``detail`` optional), each a finding."""

    class Kind(models.TextChoices):
        ID_NUMBER = "id_number", _("身份证号有效")
        CODE = "code", _("代码值在代码表中")
        DATE = "date", _("日期合理")
        NOT_NULL = "not_null", _("不得为空")
        UNIQUE = "unique", _("唯一")
        REFERENCE = "reference", _("引用存在")
        SQL = "sql", _("自定义 SQL")
        DEATH = "death", _("死亡后仍发放")
        DOUBLE = "double", _("重复领取")
        NAME = "name", _("同一身份证号姓名不一致")
        LIFE = "life", _("生存迹象（静默认证）")

    BUILT_IN = (Kind.ID_NUMBER, Kind.CODE, Kind.DATE, Kind.NOT_NULL, Kind.UNIQUE, Kind.REFERENCE)
    CROSS = (Kind.DEATH, Kind.DOUBLE, Kind.NAME, Kind.LIFE)

    name = models.CharField(_("规则名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    table = models.ForeignKey(WhTable, on_delete=models.CASCADE, null=True, blank=True, related_name="rules")
    column = models.CharField(_("字段"), max_length=50, blank=True)
    # REFERENCE: the referenced table and column; SQL: the query
    ref_table = models.ForeignKey(WhTable, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    ref_column = models.CharField(_("引用字段"), max_length=50, blank=True)
    sql = models.TextField(_("SQL"), blank=True)
    active = models.BooleanField(_("启用"), default=True)
    # attached by a dictionary load (its 字段 sheet's 审核 column); disabled when a reload no longer names it
    from_dictionary = models.BooleanField(_("由数据字典挂接"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("审核规则")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class AuditRun(models.Model):
    started_at = models.DateTimeField(_("开始"), auto_now_add=True)
    seconds = models.FloatField(_("耗时（秒）"), default=0)
    summary = models.JSONField(_("结果"), default=dict)  # {rule_id: findings}
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)

    class Meta:
        verbose_name = _("审核运行")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"审核 {self.pk}"



class Finding(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("待处理")
        CONFIRMED = "confirmed", _("已确认")
        DISMISSED = "dismissed", _("已排除")

    run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="findings")
    rule = models.ForeignKey(AuditRule, on_delete=models.CASCADE, related_name="findings")
    id_number = models.CharField(_("身份证号"), max_length=30, blank=True)
    person = models.ForeignKey("registry.Person", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", db_constraint=False)
    row_key = models.CharField(_("记录"), max_length=200, blank=True)  # the landed row's key, as text
    value = models.CharField(_("值"), max_length=200, blank=True)
    detail = models.CharField(_("说明"), max_length=500)
    month = models.DateField(_("月份"), null=True, blank=True)  # the month paid (death, 重复领取)
    event_date = models.DateField(_("日期"), null=True, blank=True)  # death date, activity date
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.OPEN)
    note = models.CharField(_("处理说明"), max_length=300, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    certified = models.BooleanField(_("已作为认证"), default=False)

    class Meta:
        verbose_name = _("审核结果")
        ordering = ["-run_id", "rule_id", "id"]
        indexes = [models.Index(fields=["rule", "state"], name="finding_rule_state")]

    def __str__(self) -> str:
        return f"审核结果 {self.pk}"



class SavedQuery(models.Model):
    """A parameterised query for business users (``%(name)s`` parameters, run as the read-only role), or
    a grouping (``grouping`` set: table, group-by, measures, filters)."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    sql = models.TextField(_("SQL"), blank=True)
    params = models.JSONField(_("参数"), default=list)  # [{"name": "month", "label": "发放年月"}]
    grouping = models.JSONField(_("分组汇总"), default=dict, blank=True)
    # who may run it: role codes (accounts.Role); empty = everyone holding 回流库查询
    roles = models.JSONField(_("可运行的角色"), default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("保存的查询")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name



class ConsoleRun(models.Model):
    """Every statement run by the console or a saved query: who, what, how many rows, how it ended."""

    sql = models.TextField()
    params = models.JSONField(default=dict)
    saved = models.ForeignKey(SavedQuery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    rows = models.IntegerField(default=0)
    seconds = models.FloatField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("查询记录")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"查询 {self.pk}"

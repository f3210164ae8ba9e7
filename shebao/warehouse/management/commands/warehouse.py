"""shebao warehouse dictionary load SOURCE PATH --as USER
shebao warehouse load SOURCE TABLE FILE [--mode full|incremental] --as USER [--json]
shebao warehouse audit --as USER [--json]

The 回流库: the data dictionary (an xlsx with the sheets 表, 字段, 代码, or a folder of 表.csv, 字段.csv,
代码.csv) and the landing of a shared file; layouts in ``shebao.warehouse.dictionary`` and
``shebao.warehouse.landing``."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from shebao.accounts.cli import acting_user, command_rule
from shebao.warehouse.audit import AuditError, audit_run
from shebao.warehouse.ddl import DictionaryError
from shebao.warehouse.dictionary import dictionary_load
from shebao.warehouse.landing import LandingError, warehouse_load
from shebao.warehouse.permissions import AUDIT_RUN_RULE, LOAD_RULE

DICTIONARY_RULE = command_rule("warehouse dictionary", LOAD_RULE)
WAREHOUSE_LOAD_RULE = command_rule("warehouse load", LOAD_RULE)
AUDIT_RULE = command_rule("warehouse audit", AUDIT_RUN_RULE)
MAX_SHOWN = 200


class Command(BaseCommand):
    help = "省宁波回流数据库：数据字典、装载、审核"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        dic = sub.add_parser("dictionary", help="数据字典")
        dsub = dic.add_subparsers(dest="dict_action", required=True)
        dload = dsub.add_parser("load", help="装载数据字典（xlsx 或含 表.csv、字段.csv、代码.csv 的文件夹）")
        dload.add_argument("source", help="来源（省、宁波；其他名称新建来源）")
        dload.add_argument("path")
        dload.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        load = sub.add_parser("load", help="装载回流数据文件（csv、tsv 或 JSON lines）")
        load.add_argument("source")
        load.add_argument("table")
        load.add_argument("file")
        load.add_argument("--mode", choices=["full", "incremental"], default="full",
                          help="full 全量（默认）或 incremental 增量（_op 列：I 新增、U 修改、D 删除）")
        load.add_argument("--as", dest="as_user", required=True, help="经办人用户名")
        load.add_argument("--json", action="store_true", help="以 JSON 输出计数")
        aud = sub.add_parser("audit", help="运行全部启用的审核规则和比对")
        aud.add_argument("--as", dest="as_user", required=True)
        aud.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        if opts["action"] == "dictionary":
            user = acting_user(opts["as_user"], DICTIONARY_RULE)
            try:
                result = dictionary_load(source_name=opts["source"], path=Path(opts["path"]), user=user)
            except DictionaryError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"已装载数据字典（{result.source.name}）：{result.text()}")
            return
        if opts["action"] == "audit":
            user = acting_user(opts["as_user"], AUDIT_RULE)
            try:
                run = audit_run(user=user)
            except AuditError as exc:
                raise CommandError(str(exc)) from None
            total = sum(run.summary.values())
            if opts["json"]:
                self.stdout.write(json.dumps({"run": run.pk, "findings": total, "seconds": run.seconds,
                                             "by_rule": run.summary}, ensure_ascii=False))
            else:
                self.stdout.write(f"审核完成（第 {run.pk} 次）：{total} 条结果，用时 {run.seconds} 秒")
            return
        user = acting_user(opts["as_user"], WAREHOUSE_LOAD_RULE)
        try:
            result = warehouse_load(source_name=opts["source"], table_name=opts["table"], path=Path(opts["file"]),
                                    mode=opts["mode"], user=user)
        except LandingError as exc:
            if opts["json"]:
                self.stdout.write(json.dumps({"read": 0, "inserted": 0, "updated": 0, "deleted": 0, "rejected": 0,
                                             "state": "refused", "message": str(exc)}, ensure_ascii=False))
            raise CommandError(str(exc)) from None
        load = result.load
        if opts["json"]:
            self.stdout.write(json.dumps({**load.counts(), "load": load.pk, "state": load.state,
                                         "seconds": load.seconds, "message": load.message,
                                         "errors": [{"record": n, "column": c, "reason": r}
                                                    for n, c, r in result.errors]}, ensure_ascii=False))
        else:
            for n, c, r in result.errors[:MAX_SHOWN]:
                self.stdout.write(f"第 {n} 条记录{('（' + c + '）') if c else ''}：{r}")
            if load.rejected > MAX_SHOWN:
                self.stdout.write(f"……共 {load.rejected} 条有错误的记录，详见装载批次 {load.pk}")
            self.stdout.write(f"批次 {load.pk}：读入 {load.read}，新增 {load.inserted}，更新 {load.updated}，"
                              f"删除 {load.deleted}，拒绝 {load.rejected}（{load.seconds} 秒）")
        if load.state == load.State.REJECTED:
            raise CommandError(load.message)

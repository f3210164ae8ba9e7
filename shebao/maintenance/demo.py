"""Demo step "maint" (数据维护): a few correction requests (one open, one applied by the demo reviewer, one
refused), three saved statistics defined by the demo IT user and one convert layout — through the app's
own services."""

from __future__ import annotations

import random

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step

LAYOUT = """身份证号 = 身份证号
姓名 = 姓名
性别 = 性别 | 代码 男=1, 女=2
出生年月 = 出生日期 | 日期 YYYYMM
月金额(分) = 月金额 | 金额 分
险种 = | 固定 自管"""


def maint_reset() -> None:
    from shebao.maintenance.models import ConvertLayout, CorrectionBatch, CorrectionRequest, SavedQuery

    CorrectionRequest.objects.all().delete()
    CorrectionBatch.objects.all().delete()
    ConvertLayout.objects.all().delete()
    SavedQuery.objects.all().delete()


@demo_step("maint", order=90, reset=maint_reset)
def maint_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    from shebao.accounts.models import User
    from shebao.maintenance.services import (
        correction_approve,
        correction_propose,
        correction_refuse,
        layout_save,
        query_save,
    )
    from shebao.registry.models import Person

    users = {u.username: u for u in User.objects.filter(username__in=["clerk", "reviewer", "itadmin"])}
    if len(users) < 3:
        return None
    clerk, reviewer, it = users["clerk"], users["reviewer"], users["itadmin"]
    ids = list(Person.objects.filter(death_date__isnull=True).order_by("pk").values_list("pk", flat=True)[:500])
    if len(ids) < 3:
        return None
    a, b, c = (Person.objects.get(pk=pk) for pk in rng.sample(ids, 3))
    correction_propose(user=clerk, person=a, kind="person", field="mobile",
                       new_value={"value": f"139{rng.randrange(10**8):08d}"}, reason="本人来电，手机号已更换")
    done = correction_propose(user=clerk, person=b, kind="person", field="residence_address",
                              new_value={"value": f"{b.town.name}新城小区{rng.randrange(1, 30)}幢"},
                              reason="居住地址登记有误（户口本复印件）")
    correction_approve(request=done, user=reviewer, note="已核对")
    refused = correction_propose(user=clerk, person=c, kind="person", field="name", new_value={"value": c.name + "一"},
                                 reason="姓名有误")
    correction_refuse(request=refused, user=reviewer, note="与身份证不符，请核实后重新申请")
    query_save(user=it, name="各镇街道登记人数", source="persons", dimensions=["town", "sex"], measures=["count"],
               parameters=["town", "born_from", "born_to"], note="按镇街道和性别统计登记人数")
    query_save(user=it, name="待遇享受人员发放状态", source="enrollments", dimensions=["scheme", "status"],
               measures=["count", "avg_years"], parameters=["scheme", "town"])
    query_save(user=it, name="每月发放金额", source="payroll_lines", dimensions=["period"],
               measures=["count", "net", "paid"], parameters=["scheme", "town", "month_from", "month_to"], chart="line")
    layout_save(user=it, name="自管人员发放名单（省平台格式）", spec=LAYOUT, note="示例：改列名、代码、日期和金额格式")
    return "数据维护：更正申请 3 条、统计查询 3 个、转换格式 1 个"


BATCH_FILES = ("演示批量更正-居住地址.csv", "演示批量更正-手机号.csv")


@demo_step("maint_batch", order=90)  # after "maint" (same order: by name)
def maint_batch_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    """批量数据处理: one batch applied (uploaded by the demo clerk, approved by the demo reviewer) and one
    waiting for approval — through ``batch_upload``/``batch_approve``. Idempotent: a batch already made (by
    its file name) is not made again (``maint_reset`` removes them)."""
    from shebao.accounts.models import User
    from shebao.maintenance.batch import batch_approve, batch_upload
    from shebao.maintenance.models import CorrectionBatch
    from shebao.registry.models import Person

    users = {u.username: u for u in User.objects.filter(username__in=["clerk", "reviewer"])}
    if len(users) < 2:
        return None
    clerk, reviewer = users["clerk"], users["reviewer"]
    made = set(CorrectionBatch.objects.filter(file_name__in=BATCH_FILES).values_list("file_name", flat=True))
    if made == set(BATCH_FILES):
        return None
    persons = list(Person.objects.filter(death_date__isnull=True).select_related("town").order_by("pk")[:200])
    if len(persons) < 4:
        return None
    a, b, c, d = rng.sample(persons, 4)
    if BATCH_FILES[0] not in made:
        lines = ["身份证号,姓名,字段,新值"] + [
            f"{p.id_number},{p.name},居住地址,{p.town.name}{name}{rng.randrange(1, 30)}幢"
            for p, name in ((a, "和美家园"), (b, "阳光花苑"))]
        done = batch_upload(user=clerk, file_name=BATCH_FILES[0], data=("\n".join(lines) + "\n").encode(),
                            reason="社区核对居住地址（演示）")
        batch_approve(batch=done, user=reviewer, note="已与社区名单核对")
    if BATCH_FILES[1] not in made:
        lines = ["身份证号,姓名,字段,新值"] + [f"{p.id_number},{p.name},手机,13{rng.randrange(5, 9)}{rng.randrange(10**8):08d}"
                                         for p in (c, d)]
        batch_upload(user=clerk, file_name=BATCH_FILES[1], data=("\n".join(lines) + "\n").encode(),
                     reason="本人来电更换手机号（演示）")
    return "数据维护：批量更正 2 批（已更正 1 批、待审核 1 批）"

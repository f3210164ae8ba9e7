"""Demo step "archive" (原遗留养老系统): the dump of the old 养老 system switched off in 2008 — its
dictionary in the warehouse's layout and three tables — written to a temporary folder and loaded through
the real ``archive_load`` (the same checks, the same read-only tables and person index).

- ``yl_ac01`` 人员基本信息 (个人编号, 身份证号, 姓名, 性别, 出生日期, 户籍地址, 联系电话, 人员状态, 参保日期): older
  persons of the demo registry — a third written with the 15-digit number they had then — and persons the
  live system never knew (died before 2009);
- ``yl_ac43`` 待遇发放 (by 身份证号, in the form the old system kept: 15 digits for those written so; 发放年月
  2007-01 … 2008-12 for those already retired; 银行账号; 发放类型 正常/补发/扣回);
- ``yl_ic20`` 缴费记录 (by 个人编号 only: the index links it through yl_ac01; 1992 … the year before retirement).

So a 15-digit search finds a retired demo person in all three tables. Deterministic for the load's seed
(the same files, the same sha256); a second run finds its load and adds nothing; ``archive_demo_reset``
drops the three tables and their index rows."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path

from shebao.common.jobs import Progress
from shebao.demo.steps import demo_step, scale_size

DEMO_LOAD = "原养老系统_2008"  # the folder's name: the load's 来源目录
TABLES = ("yl_ac01", "yl_ac43", "yl_ic20")
SYSTEM_END = 2008  # the last year of the old system

DICT_TABLES = """表名,中文名,说明,主键
yl_ac01,人员基本信息,原养老系统（2008 年停用）的参保人员,aac001
yl_ac43,待遇发放,原养老系统 2007—2008 年按月发放明细（身份证号按原系统登记的位数）,"aac002,aae002,fflx"
yl_ic20,缴费记录,原养老系统按年度缴费（只有个人编号）,"aac001,aae001"
"""
DICT_COLUMNS = """表名,字段名,中文名,类型,代码类别,说明
yl_ac01,aac001,个人编号,VARCHAR2(20),,原系统编号
yl_ac01,aac002,,,,15 位或 18 位
yl_ac01,aac003,,,,
yl_ac01,aac004,,,,
yl_ac01,aac006,,,,
yl_ac01,aac010,户籍地址,VARCHAR2(100),,
yl_ac01,aae005,联系电话,VARCHAR2(20),,
yl_ac01,ryzt,人员状态,CHAR(1),RYZT,
yl_ac01,cbrq,参保日期,DATE,,
yl_ac43,aac002,,,,
yl_ac43,aac003,,,,
yl_ac43,aae002,,,,
yl_ac43,aae019,,,,
yl_ac43,fflx,发放类型,CHAR(1),FFLX,
yl_ac43,aae010,银行账号,VARCHAR2(30),,
yl_ic20,aac001,个人编号,VARCHAR2(20),,
yl_ic20,aae001,缴费年度,NUMBER(4),,
yl_ic20,jfdc,缴费档次,CHAR(1),JFDC,
yl_ic20,jfje,缴费金额,"NUMBER(12,2)",,
yl_ic20,jfrq,缴费日期,DATE,,
"""
DICT_CODES = """代码类别,代码值,含义
RYZT,1,参保缴费
RYZT,2,领取待遇
RYZT,3,死亡注销
FFLX,1,正常发放
FFLX,2,补发
FFLX,3,扣回
JFDC,1,第一档（年缴 120 元）
JFDC,2,第二档（年缴 240 元）
JFDC,3,第三档（年缴 360 元）
"""
TOWNS = ["浒山街道", "坎墩街道", "宗汉街道", "古塘街道", "白沙路街道", "观海卫镇", "周巷镇", "龙山镇"]
LEGACY_ONLY_SURNAMES = "陈胡王徐孙沈岑罗周戚潘叶黄张"
LEGACY_ONLY_GIVEN = "阿根杏娣桂芳金宝彩凤荣福秀英根娣美娟小毛三宝月仙"


def archive_demo_reset() -> None:
    """Drop the demo's archive tables, their person index rows and persons left without rows, and the
    load's metadata (the only deletion of archived data there is: the demo database's own)."""
    from django.db import connection, transaction

    from shebao.archive import ddl
    from shebao.archive.models import ArchiveLoad, ArchiveTable

    loads = list(ArchiveLoad.objects.filter(name=DEMO_LOAD).values_list("pk", flat=True))
    if not loads:
        return
    tables = list(ArchiveTable.objects.filter(load_id__in=loads))
    # one transaction (the demo's own, when there is one): the setting below lives as long as it does
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [ddl.LOADING_SETTING])
        cursor.execute("DELETE FROM archive.person_row WHERE table_id = ANY(%s)", [[t.pk for t in tables]])
        cursor.execute("DELETE FROM archive.person p WHERE NOT EXISTS "
                       "(SELECT 1 FROM archive.person_row r WHERE r.person_id = p.id)")
        for t in tables:
            cursor.execute(f'DROP TABLE IF EXISTS archive."{t.name}"')  # names checked by the load (ident)
        cursor.execute("SELECT set_config(%s, 'off', true)", [ddl.LOADING_SETTING])
        ArchiveTable.objects.filter(load_id__in=loads).delete()
        ArchiveLoad.objects.filter(pk__in=loads).delete()


def _id15(id18: str) -> str:
    return id18[:6] + id18[8:17]


def _legacy_only(i: int, rng: random.Random) -> tuple:
    """A person only the old system knew (died 2000–2008, never registered in the live system), in the
    shape of ``_write``'s ``people``."""
    from shebao.common.identity import check_char

    born = dt.date(1915, 1, 1) + dt.timedelta(days=rng.randrange(365 * 25))
    sex = "M" if i % 2 else "F"
    seq = rng.randrange(500, 990)
    seq -= (seq % 2) != (1 if sex == "M" else 0)  # the 17th digit's parity is the sex
    body = f"330282{born:%Y%m%d}{seq:03d}"
    name = rng.choice(LEGACY_ONLY_SURNAMES) + "".join(rng.sample(LEGACY_ONLY_GIVEN, 2))
    address = f"{TOWNS[i % len(TOWNS)]}{rng.choice('东西南北')}街{rng.randrange(1, 90)}号"
    died = dt.date(2000 + i % 9, 1 + i % 12, 1 + i % 28)
    return body + check_char(body), "", name, sex, born, address, "", died


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value


def _write(folder: Path, people: list[tuple], rng: random.Random) -> dict[str, int]:
    """The dump's files; ``people``: (18-digit, original 15-digit or '', name, sex M/F, birth date, address,
    mobile, death date or None). → rows per table."""
    (folder / "表.csv").write_text(DICT_TABLES, encoding="utf-8")
    (folder / "字段.csv").write_text(DICT_COLUMNS, encoding="utf-8")
    (folder / "代码.csv").write_text(DICT_CODES, encoding="utf-8")
    ac01 = ["aac001,aac002,aac003,aac004,aac006,aac010,aae005,ryzt,cbrq"]
    ac43 = ["aac002,aac003,aae002,aae019,fflx,aae010"]
    ic20 = ["aac001,aae001,jfdc,jfje,jfrq"]
    for i, (id18, orig15, name, sex, born, address, mobile, died) in enumerate(people):
        pno = f"{330282}{1992 + i % 17:04d}{i:06d}"
        # the number as the old system wrote it: the 15-digit one it was issued with, or a third in 15 digits
        written = orig15 or (_id15(id18) if i % 3 == 0 else id18)
        retire = born.year + (60 if sex == "M" else 55)
        start = max(1992, born.year + 18)
        status = "3" if died and died.year <= SYSTEM_END else ("2" if retire <= SYSTEM_END else "1")
        phone = mobile if mobile and i % 4 else ""
        ac01.append(f"{pno},{written},{name},{1 if sex == 'M' else 2},{born:%Y%m%d},{_quoted(address[:100])},{phone},{status},"
                    f"{dt.date(start, 1 + i % 12, 1 + i % 28):%Y-%m-%d}")
        grade = 1 + i % 3
        for year in range(start, min(retire, SYSTEM_END + 1)):
            if died and year > died.year:
                break
            ic20.append(f"{pno},{year},{grade},{120 * grade}.00,{year}-{3 + i % 9:02d}-{1 + i % 27:02d}")
        if retire <= 2006:
            monthly = 55 + 5 * ((SYSTEM_END - retire) // 3) + grade * 10 + rng.randrange(0, 4) * 5
            account = f"3302{rng.randrange(10**14):014d}"
            for year in (2007, 2008):
                for month in range(1, 13):
                    if died and (year, month) > (died.year, died.month):
                        break
                    ac43.append(f"{written},{name},{year}{month:02d},{monthly}.00,1,{account}")
            paid_july = not died or died >= dt.date(2008, 8, 1)
            if i % 11 == 0 and paid_july:  # a 补发 after a recalculation, and a 扣回 of a month paid twice
                ac43.append(f"{written},{name},200807,{3 * (i % 7 + 2)}.00,2,{account}")
            if i % 29 == 0:
                ac43.append(f"{written},{name},200803,-{monthly}.00,3,{account}")
    files = {"yl_ac01": ac01, "yl_ac43": ac43, "yl_ic20": ic20}
    for name, lines in files.items():
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {name: len(lines) - 1 for name, lines in files.items()}


@demo_step("archive", order=90, reset=archive_demo_reset)
def archive_demo(scale: str, rng: random.Random, progress: Progress) -> str | None:
    from shebao.accounts.models import User
    from shebao.archive.loading import archive_load
    from shebao.archive.models import ArchiveLoad
    from shebao.demo.runner import demo_users_ensure
    from shebao.registry.models import Person

    done = ArchiveLoad.objects.filter(name=DEMO_LOAD).first()
    if done is not None:  # loaded before (the same seed writes the same dump): nothing added
        return f"原遗留养老系统档案：已有（批次 {done.pk}，{done.rows:,} 行）"
    demo_users_ensure()
    user = User.objects.filter(username="itadmin").first()
    if user is None:
        return None
    count = max(60, scale_size(scale, "archive_persons", scale_size(scale, "persons") // 5))
    # older persons of the registry (7 in 10 of the dump), and persons only the old system knew
    known = list(Person.objects.filter(birth_date__year__lte=1958).order_by("id").values_list(
        "id_number", "id_number_original", "name", "sex", "birth_date", "hukou_address", "mobile", "death_date"))
    people = rng.sample(known, min(len(known), count * 7 // 10))
    used = {p[0][:17] for p in people}
    while len(people) < count:  # each a number of its own
        person = _legacy_only(len(people), rng)
        if person[0][:17] not in used:
            used.add(person[0][:17])
            people.append(person)
    people.sort(key=lambda p: p[0])
    progress.start(2, "原遗留养老系统档案")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / DEMO_LOAD
        folder.mkdir()
        _write(folder, people, rng)
        progress.advance()
        summary = archive_load(path=folder, user=user)
        progress.advance()
    return f"原遗留养老系统档案：{len(summary.tables)} 张表 {summary.load.rows:,} 行，{summary.load.persons:,} 人"

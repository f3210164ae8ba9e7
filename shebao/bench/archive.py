"""Benchmark section ``archive`` (``make bench BENCH_ARGS="--only archive"``): a legacy dump of
5,000,000 archived rows loaded by ``shebao archive load`` (its dictionary and COPY landing are the
warehouse's), then the person search over them (target p95 ≤ 50 ms) by 18-digit 身份证号, by its old
15-digit form and by name, and a person's records page.

The dump: ``bench_ac01`` 人员 (1,000,000 rows; a third of the 身份证号 written in 15 digits),
``bench_ac43`` 待遇发放 (2,000,000 rows, by 身份证号) and ``bench_ic20`` 缴费 (2,000,000 rows, by 个人编号
only: linked through bench_ac01). ``ARCHIVE_BENCH_ROWS`` scales it (the total). Dropped at the end."""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

from shebao.bench import section

ROWS = int(os.environ.get("ARCHIVE_BENCH_ROWS", "5000000"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强文"


def _write(folder: Path, persons: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """The dump's files; → a sample of (18-digit, 15-digit, name) to search for."""
    from shebao.common.identity import check_char

    pay = contrib = (ROWS - persons) // 2
    (folder / "表.csv").write_text('表名,中文名,说明,主键\nbench_ac01,人员基本信息,基准,aac001\n'
                                   'bench_ac43,待遇发放,基准,"aac002,aae002"\nbench_ic20,缴费记录,基准,"aac001,aae001"\n',
                                   encoding="utf-8")
    (folder / "字段.csv").write_text(
        "表名,字段名,中文名,类型,代码类别,说明\nbench_ac01,aac001,个人编号,VARCHAR2(20),,\nbench_ac01,aac002,,,,\n"
        "bench_ac01,aac003,,,,\nbench_ac01,aac004,,,,\nbench_ac01,aae005,联系电话,VARCHAR2(20),,\n"
        "bench_ac43,aac002,,,,\nbench_ac43,aae002,,,,\nbench_ac43,aae019,,,,\n"
        "bench_ic20,aac001,个人编号,VARCHAR2(20),,\nbench_ic20,aae001,年度,NUMBER(4),,\n"
        "bench_ic20,jfje,缴费金额,\"NUMBER(12,2)\",,\n", encoding="utf-8")
    (folder / "代码.csv").write_text("代码类别,代码值,含义\n", encoding="utf-8")
    ids = []
    with (folder / "bench_ac01.csv").open("w", encoding="utf-8") as fh:
        fh.write("aac001,aac002,aac003,aac004,aae005\n")
        for i in range(persons):
            day, seq = i % 10950, i // 10950
            born = time.gmtime(-1262304000 + day * 86400)  # from 1930-01-01
            body = f"330282{born.tm_year:04d}{born.tm_mon:02d}{born.tm_mday:02d}{seq:03d}"
            id18 = body + check_char(body)
            id15 = body[:6] + body[8:17]
            name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 131) % len(GIVEN)]
            ids.append((id18, id15, name))
            fh.write(f"P{i:09d},{id15 if i % 3 == 0 else id18},{name},{1 + i % 2},1380574{i % 10000:04d}\n")
    with (folder / "bench_ac43.csv").open("w", encoding="utf-8") as fh:
        fh.write("aac002,aae002,aae019\n")
        per = pay // persons + 1
        n = 0
        for i, (id18, id15, _name) in enumerate(ids):
            for m in range(per):
                if n >= pay:
                    break
                fh.write(f"{id15 if i % 5 == 0 else id18},{2000 + m // 12:04d}{1 + m % 12:02d},{300 + m}.50\n")
                n += 1
    with (folder / "bench_ic20.csv").open("w", encoding="utf-8") as fh:
        fh.write("aac001,aae001,jfje\n")
        per = contrib // persons + 1
        n = 0
        for i in range(persons):
            for y in range(per):
                if n >= contrib:
                    break
                fh.write(f"P{i:09d},{1992 + y},{120 + y}.00\n")
                n += 1
    return rng.sample(ids, 400)


def _percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_archive(seed: int = 42) -> dict:
    from django.db import connection, transaction

    from shebao.accounts.models import User
    from shebao.archive import selectors as sel
    from shebao.archive.ddl import LOADING_SETTING
    from shebao.archive.loading import archive_load
    from shebao.archive.models import ArchiveLoad, ArchiveTable
    from shebao.bench.payroll import cpu_clock
    from shebao.common.masking import Masker

    rng = random.Random(seed)
    clock = cpu_clock() or time.process_time
    user, _ = User.objects.get_or_create(username="bench_archive", defaults={
        "is_superuser": True, "all_regions": True, "full_name": "基准"})
    persons = ROWS // 5
    out: dict = {"rows": ROWS, "persons": persons}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "legacy_bench"
        folder.mkdir()
        print(f"生成 {ROWS:,} 行档案数据……", flush=True)
        sample = _write(folder, persons, rng)
        out["mb"] = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        print("装载（shebao archive load）……", flush=True)
        t0, c0 = time.perf_counter(), clock()
        summary = archive_load(path=folder, user=user)
        out["load_s"], out["load_cpu"] = time.perf_counter() - t0, clock() - c0
        out["loaded"] = summary.tables
        out["indexed"] = summary.load.persons
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE archive.person; ANALYZE archive.person_row")
        cursor.execute("SELECT count(*) FROM archive.person_row")
        out["person_rows"] = cursor.fetchone()[0]
    masker = Masker(can_view=False)
    kinds = {"18 位身份证号": [s[0] for s in sample], "15 位身份证号": [s[1] for s in sample],
             "姓名": [s[2] for s in sample[:100]]}
    out["search"] = []
    for kind, queries in kinds.items():
        walls, found = [], 0
        c0 = clock()
        for q in queries:
            t0 = time.perf_counter()
            hits = sel.person_search(user=user, q=q)
            walls.append((time.perf_counter() - t0) * 1000)
            found += bool(hits)
        cpu = (clock() - c0) / len(queries) * 1000
        out["search"].append((kind, len(queries), found, _percentile(walls, 50), _percentile(walls, 95), max(walls), cpu))
        print(f"  {kind}：p95 {_percentile(walls, 95):.1f} ms", flush=True)
    walls, c0 = [], clock()
    for id18, _id15, _name in sample[:200]:
        t0 = time.perf_counter()
        person = sel.person_get(user=user, pk=sel.person_search(user=user, q=id18)[0].id)
        records = sel.person_records(person=person, masker=masker)
        walls.append((time.perf_counter() - t0) * 1000)
    out["records"] = (len(walls), sum(len(r.rows) for r in records), _percentile(walls, 50), _percentile(walls, 95),
                      max(walls), (clock() - c0) / len(walls) * 1000)
    # clean up: the bench tables, their index rows and metadata (the archive's triggers allow it only here)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [LOADING_SETTING])
        ids = list(ArchiveTable.objects.filter(name__startswith="bench_").values_list("pk", flat=True))
        cursor.execute("DELETE FROM archive.person_row WHERE table_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM archive.person p WHERE NOT EXISTS (SELECT 1 FROM archive.person_row r "
                       "WHERE r.person_id = p.id)")
        for name in ArchiveTable.objects.filter(pk__in=ids).values_list("name", flat=True):
            cursor.execute(f'DROP TABLE archive."{name}"')
        loads = list(ArchiveTable.objects.filter(pk__in=ids).values_list("load_id", flat=True))
        ArchiveTable.objects.filter(pk__in=ids).delete()
        ArchiveLoad.objects.filter(pk__in=loads).delete()
    return out


@section("archive", title="原遗留养老系统档案：500 万行装载与人员查询", order=85)
def archive_section(ctx) -> None:
    r = bench_archive(seed=ctx.args.seed)
    rows = [["装载（字典 + 3 张表 + 人员索引）", f"{r['rows']:,} 行 / {r['mb']:.0f} MB", "", "", "",
             f"{r['load_s']:.1f} s", f"{r['load_cpu']:.1f} s"]]
    for kind, n, found, p50, p95, mx, cpu in r["search"]:
        rows.append([f"查询：{kind}", f"{n} 次，找到 {found}", f"{p50:.1f}", f"{p95:.1f}", f"{mx:.1f}", "", f"{cpu:.1f} ms/次"])
    n, _rows, p50, p95, mx, cpu = r["records"]
    rows.append(["个人档案记录（查询 + 全部表的记录）", f"{n} 次", f"{p50:.1f}", f"{p95:.1f}", f"{mx:.1f}", "",
                 f"{cpu:.1f} ms/次"])
    ctx.table("原遗留养老系统档案", ["步骤", "规模", "p50 ms", "p95 ms", "最大 ms", "墙钟", "CPU（本进程 + 数据库后端）"],
              rows, notes=[f"人员 {r['persons']:,}，人员索引 {r['person_rows']:,} 行；装载 {r['loaded']}"])

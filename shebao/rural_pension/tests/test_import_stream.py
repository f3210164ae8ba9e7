"""The legacy import reads its files as a stream: the same lines, encodings and rejections as reading
the whole file, at any chunk size; never a whole file in memory; a file changed during the import
stops it; the rejected rows can be exported without holding them."""

import csv
import datetime as dt
import io
import shutil
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from shebao.rural_pension import legacy_import
from shebao.rural_pension.legacy_import import ImportFileError, decode_lines, rural_import
from shebao.rural_pension.models import Contribution, ImportBatch, ImportRejection, RuralAccount
from shebao.rural_pension.tests.factories import make_user

D = Decimal
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
GOOD = "330282196203051238"


def whole_file_decode(data: bytes):
    """The reading of the whole file the streamed reader replaces (the rule, stated as plainly as can be)."""
    encoding = "UTF-8"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        encoding = "UTF-8 (BOM)"
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    raw_lines = [r[:-1] if r.endswith(b"\r") else r for r in raw_lines]
    try:
        lines = data.decode("utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return encoding, [(n, t.removesuffix("\r"), b"") for n, t in enumerate(lines, start=1)]
    except UnicodeDecodeError:
        pass
    ok = bad = 0
    for raw in raw_lines[:20_000]:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            ok += 1
        except UnicodeDecodeError:
            bad += 1
    codec = "utf-8" if ok > bad else "gb18030"
    out = []
    for n, raw in enumerate(raw_lines, start=1):
        try:
            out.append((n, raw.decode(codec), b""))
        except UnicodeDecodeError:
            out.append((n, None, raw))
    return ("UTF-8" if codec == "utf-8" else "GB18030"), out


CASES = [
    "年度,记账利率\n2020,0.01\n".encode(),
    "\ufeff年度,记账利率\r\n2020,0.01\r\n".encode(),
    "年度,记账利率\r\n\r\n2020,0.01".encode(),  # a blank line, no final newline
    "身份证号,年月,类别,金额\r\n330282196203051238,199301,个人缴费,1.00\r\n".encode("gb18030"),
    # UTF-8 with one bad line far from the start; mostly UTF-8 → UTF-8, the bad line undecodable
    ("身份证号,年月,类别,金额\n" + "330282196203051238,199301,集体补助,1.00\n" * 40).encode()
    + b"330282196203051238,199302,\xff\xfe,1.00\n" + "330282196203051238,199303,其他,2.00\n".encode(),
    # GB18030 with a UTF-8 line in it: mostly GB18030 → GB18030 (the UTF-8 line decodes as GB18030)
    ("姓名,镇街道\n" + "王阿大,浒山街道\n" * 30).encode("gb18030") + "李四,观海卫镇\n".encode(),
    # GB18030 with 4-byte characters (㐀 is 4 bytes in GB18030) and a truncated last character
    ("姓名\n" + "㐀㐁王\n" * 20).encode("gb18030") + b"\x81\x30\n",
    b"",
    b"\n\n",
    "\ufeff".encode(),
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64, 1 << 20])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_streamed_reading_equals_reading_the_whole_file(monkeypatch, chunk, case):
    monkeypatch.setattr(legacy_import, "CHUNK_BYTES", chunk)
    assert decode_lines(CASES[case]) == whole_file_decode(CASES[case])


def test_reading_holds_a_chunk_not_the_file(monkeypatch, tmp_path):
    """Reading 8 MB of contribution rows through the import's reader with 64 KB chunks: the peak of Python
    allocations is a few chunks (a chunk, its text and its lines), a small part of the file (the
    whole-file reading held the bytes, the text and a tuple per line: several times the file)."""
    monkeypatch.setattr(legacy_import, "CHUNK_BYTES", 64 * 1024)
    path = tmp_path / "contributions.csv"
    line = f"{GOOD},199301,个人缴费,120.00\n"
    with path.open("w", encoding="utf-8") as f:
        f.write("身份证号,年月,类别,金额\n")
        for _ in range(8_000_000 // len(line.encode())):
            f.write(line)
    size = path.stat().st_size
    with path.open("rb") as f:
        scan = legacy_import.scan_file(f, "contributions.csv", path)
    tracemalloc.start()
    try:
        rows = 0
        for _n, fields, _content in legacy_import._rows(scan):
            rows += 1
            assert fields is not None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == size // len(line.encode())
    assert scan.encoding == "UTF-8" and scan.size == size
    assert peak < 16 * legacy_import.CHUNK_BYTES < size / 7, peak


@pytest.mark.django_db
def test_import_reads_no_whole_file_and_matches_at_any_chunk_size(monkeypatch, tmp_path):
    """The samples and a file with a bad line load the same with 7-byte chunks, and nothing reads a file
    whole (read_bytes / read_text would fail)."""
    clerk = make_user("it_stream")
    shutil.copytree(SAMPLES, tmp_path / "in")
    (tmp_path / "in" / "contributions.csv").write_bytes(
        (SAMPLES / "contributions.csv").read_bytes() + f"{GOOD},199901,个人缴费,".encode() + b"\xff\xfe\n"
        + f"{GOOD},199902,个人缴费,5.00".encode())  # no final newline
    expected = rural_import(directory=tmp_path / "in", user=clerk, dry_run=True)

    def refuse(*args, **kwargs):
        raise AssertionError("a whole file was read")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    monkeypatch.setattr(legacy_import, "CHUNK_BYTES", 7)
    result = rural_import(directory=tmp_path / "in", user=clerk)
    assert result.created == expected.created and result.created["contributions"] == 16
    assert [r.__dict__ for r in result.reconciliation] == [r.__dict__ for r in expected.reconciliation]
    assert result.files == expected.files and result.files["contributions.csv"]["encoding"] == "UTF-8"
    bad = ImportRejection.objects.get(batch=result.batch)
    assert (bad.file, bad.line_no) == ("contributions.csv", 17) and "编码错误" in bad.reason
    assert Contribution.objects.filter(account__person__id_number=GOOD, month=dt.date(1999, 2, 1)).get().amount == 5


@pytest.mark.django_db
def test_a_file_changed_during_the_import_stops_it(monkeypatch, tmp_path):
    clerk = make_user("it_stream2")
    shutil.copytree(SAMPLES, tmp_path / "in")
    real_scan = legacy_import.scan_file

    def scan_then_change(f, name="", path=None):
        scan = real_scan(f, name, path)
        if name == "payouts.csv":  # after pass 1, before pass 2: another program appends a row
            with path.open("ab") as out:
                out.write("33028219480620357X,200810,养老金,12.86\n".encode())
        return scan

    monkeypatch.setattr(legacy_import, "scan_file", scan_then_change)
    with pytest.raises(ImportFileError, match="payouts.csv 在导入过程中被修改（SHA-256 与开始时不同）"):
        rural_import(directory=tmp_path / "in", user=clerk)
    assert not ImportBatch.objects.exists() and not RuralAccount.objects.exists()
    assert not Contribution.objects.exists()


@pytest.mark.django_db
def test_rejections_are_written_in_chunks_and_exported_whole(monkeypatch, tmp_path, capsys):
    clerk = make_user("it_stream3", perms=["accounts.it_ops"])
    monkeypatch.setattr(legacy_import, "REJECT_FLUSH", 2)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rates.csv").write_text(
        "年度,记账利率\n2020,0.0100\n2021,x\n2022,1.5\n20x3,0.01\n2020,0.0100\n2024,0.0200\n", encoding="utf-8")
    (tmp_path / "in" / "contributions.csv").write_text(
        f"身份证号,年月,类别,金额\n{GOOD},199301,个人缴费,1.00\n{GOOD},199302,个人缴费,2.50\n", encoding="utf-8")
    out = tmp_path / "rejected.csv"
    call_command("rural", "import", str(tmp_path / "in"), "--as", clerk.username, "--rejected", str(out),
                 "--show", "1")
    printed = capsys.readouterr().out
    assert f"拒绝行已写入 {out}（6 行）" in printed and "另有 5 行未显示" in printed
    batch = ImportBatch.objects.get()
    assert batch.rejections.filter(file="rates.csv").count() == 4
    rates = batch.reconciliation.get(file="rates.csv")
    assert (rates.rows_read, rates.rows_new, rates.rows_rejected) == (6, 2, 4)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["文件", "行号", "原因", "内容"]
    assert [(r[0], r[1]) for r in rows[1:]] == [("contributions.csv", "2"), ("contributions.csv", "3"),
                                                ("rates.csv", "3"), ("rates.csv", "4"), ("rates.csv", "5"),
                                                ("rates.csv", "6")]
    assert "没有老农保账户" in rows[1][2] and rows[2][3] == f"{GOOD},199302,个人缴费,2.50"
    assert not (tmp_path / "rejected.csv.part").exists()

"""Bank transport over the 专线: a folder channel (tmp_path) and SFTP against a real server on
127.0.0.1 (``sftp_server``). A file is delivered once; its return is picked up and imported once (a
second poll changes nothing, the same bytes again are skipped by sha256); a bad return is parked in
``rejected/`` with its reason and no line changes; every transfer is logged."""

import os
import threading

import paramiko
import pytest
from django.db import connection
from django.urls import reverse

from shebao.bank.models import BankChannel, BankFile, BankTemplate, BankTransfer, ReturnFile
from shebao.bank.services import BankError, bank_export
from shebao.bank.transfer import bank_channel_save, bank_file_deliver, bank_returns_pick_up
from shebao.payroll.models import PayrollLine

from .helpers import bank_answer
from .sftp_server import SftpTestServer

pytestmark = pytest.mark.django_db
OUT = BankTransfer.Outcome


@pytest.fixture(autouse=True)
def roots(settings, tmp_path):
    """The shares and secrets roots a channel must stay within: this test's folder."""
    settings.SHEBAO_BANK_SHARES = tmp_path
    settings.SHEBAO_BANK_SECRETS = tmp_path


@pytest.fixture
def files(run, clerk):
    return {f.bank: f for f in bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"),
                                           user=clerk)}


def _folders(root):
    out, inbox = root / "out", root / "in"
    out.mkdir(parents=True)
    inbox.mkdir(parents=True)
    return out, inbox


def _statuses(run):
    return list(PayrollLine.objects.filter(run=run).order_by("seq").values_list("status", "paid_amount", "fail_reason"))


def _log():
    return list(BankTransfer.objects.order_by("id").values_list("direction", "file_name", "outcome"))


def test_folder_channel_deliver_once_pick_up_once(tmp_path, files, reviewer, clerk, run):
    out, inbox = _folders(tmp_path / "icbc")
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                      import_user=clerk)
    icbc = files["ICBC"]
    transfer = bank_file_deliver(bank_file=icbc, user=clerk)
    assert (out / icbc.file_name).read_bytes() == bytes(BankFile.objects.get(pk=icbc.pk).content)
    assert (transfer.outcome, transfer.size, transfer.sha256) == (OUT.SENT, len(bytes(icbc.content)), icbc.sha256)
    assert not list(out.glob(".*"))  # no partial file left
    with pytest.raises(BankError) as exc:
        bank_file_deliver(bank_file=icbc, user=clerk)
    assert str(exc.value).startswith(f"报盘文件 {icbc.batch_no} 已于 ") and str(exc.value).endswith("发送，不能重复发送")
    assert BankTransfer.objects.filter(direction="out").count() == 1

    answer = bank_answer(icbc, {1: "户名不符"})
    (inbox / "ICBC_RET_1.txt").write_bytes(answer)
    result = bank_returns_pick_up(settle=0)
    assert (result.imported, result.skipped, result.rejected, result.failed) == (1, 0, 0, [])
    rf = ReturnFile.objects.get()
    assert (rf.bank_file_id, rf.failed_count, rf.imported_by_id) == (icbc.pk, 1, clerk.pk)
    assert (inbox / "imported" / "ICBC_RET_1.txt").exists() and not (inbox / "ICBC_RET_1.txt").exists()
    after_first = _statuses(run)
    assert sum(1 for s, _, _ in after_first if s == "failed") == 1

    again = bank_returns_pick_up(settle=0)  # nothing waiting: nothing changes
    assert (again.imported, again.skipped, again.rejected) == (0, 0, 0)
    (inbox / "copy_of_the_same.txt").write_bytes(answer)  # the same bytes under another name
    third = bank_returns_pick_up(settle=0)
    assert (third.imported, third.skipped) == (0, 1)
    assert ReturnFile.objects.count() == 1 and _statuses(run) == after_first
    assert _log() == [("out", icbc.file_name, OUT.SENT), ("in", "ICBC_RET_1.txt", OUT.IMPORTED),
                      ("in", "copy_of_the_same.txt", OUT.SKIPPED)]


def test_bad_return_is_parked_with_its_reason_and_nothing_changes(tmp_path, files, reviewer, clerk, run):
    out, inbox = _folders(tmp_path / "icbc")
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                      import_user=clerk)
    icbc, abc = files["ICBC"], files["ABC"]
    good = bank_answer(icbc).decode("gb18030")
    bad = good.replace(f"|{icbc.lines.get(seq=1).amount}|", "|1.00|", 1)  # an amount the file did not send
    (inbox / "bad.txt").write_bytes(bad.encode("gb18030"))
    (inbox / "other_bank.txt").write_bytes(bank_answer(abc))  # ABC's batch on the ICBC line
    (inbox / ".still_writing.txt").write_bytes(b"H|")
    before = _statuses(run)
    result = bank_returns_pick_up(settle=0)
    assert (result.imported, result.rejected) == (0, 2)
    assert _statuses(run) == before and not ReturnFile.objects.exists()
    reason = (inbox / "rejected" / "bad.txt.reason.txt").read_text(encoding="utf-8")
    assert reason.startswith("回盘文件被拒绝（2 处错误）：第1行：汇总行总金额 1200.50 与明细合计 ")
    assert "；第2行：处理成功但实处理金额 " in reason and " 与应处理金额 1.00 不符" in reason
    assert (inbox / "rejected" / "bad.txt").read_bytes() == bad.encode("gb18030")
    other = (inbox / "rejected" / "other_bank.txt.reason.txt").read_text(encoding="utf-8")
    assert f"批次 {abc.batch_no} 是 ABC 的报盘文件，不是本通道（ICBC）的" in other
    assert (inbox / ".still_writing.txt").exists()  # hidden: being written, left alone
    logged = BankTransfer.objects.get(file_name="bad.txt")
    assert (logged.outcome, logged.message) == (OUT.REJECTED, reason.strip())


def test_import_user_without_the_right_stops_the_channel(tmp_path, files, reviewer, clerk):
    out, inbox = _folders(tmp_path / "icbc")
    channel = bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                                import_user=clerk)
    with pytest.raises(BankError) as exc:
        bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                          import_user=reviewer)
    assert str(exc.value) == "导入身份 rev1：您没有此功能的权限"
    BankChannel.objects.filter(pk=channel.pk).update(import_user=reviewer)  # the right taken away since
    (inbox / "r.txt").write_bytes(bank_answer(files["ICBC"]))
    result = bank_returns_pick_up(settle=0)
    assert result.failed == ["ICBC：导入身份 rev1：您没有此功能的权限"]
    assert (inbox / "r.txt").exists() and not ReturnFile.objects.exists()


def _sftp_channel(reviewer, clerk, server, **kw):
    return bank_channel_save(user=reviewer, bank="ICBC", kind="sftp", host="127.0.0.1", port=server.port,
                             username="bank", out_dir="/out", in_dir="/in", import_user=clerk,
                             host_key_fingerprint=kw.pop("fingerprint", server.fingerprint), **kw)


def test_sftp_with_a_key_delivers_and_picks_up_once(tmp_path, files, reviewer, clerk, run):
    root = tmp_path / "sftp"
    out, inbox = _folders(root)
    client_key = paramiko.RSAKey.generate(2048)
    key_path = tmp_path / "id_rsa"
    client_key.write_private_key_file(str(key_path))
    with SftpTestServer(root, username="bank", client_key=client_key) as server:
        _sftp_channel(reviewer, clerk, server, key_path=str(key_path))
        icbc = files["ICBC"]
        bank_file_deliver(bank_file=icbc, user=clerk)
        assert (out / icbc.file_name).read_bytes() == bytes(BankFile.objects.get(pk=icbc.pk).content)
        (inbox / "ret.txt").write_bytes(bank_answer(icbc, {2: "账户冻结"}))
        first = bank_returns_pick_up(settle=0)
        assert (first.imported, first.failed) == (1, [])
        statuses = _statuses(run)
        second = bank_returns_pick_up(settle=0)
        assert (second.imported, second.skipped, second.rejected) == (0, 0, 0)
        assert ReturnFile.objects.count() == 1 and _statuses(run) == statuses
        assert (inbox / "imported" / "ret.txt").exists()
        (inbox / "bad.txt").write_bytes(b"H|nonsense\r\n")
        bad = bank_returns_pick_up(settle=0)
        assert bad.rejected == 1 and (inbox / "rejected" / "bad.txt.reason.txt").exists()
    assert _log()[:2] == [("out", icbc.file_name, OUT.SENT), ("in", "ret.txt", OUT.IMPORTED)]


def test_sftp_password_from_the_environment_and_a_pinned_host_key(tmp_path, files, reviewer, clerk, monkeypatch):
    root = tmp_path / "sftp"
    out, _ = _folders(root)
    monkeypatch.setenv("SHEBAO_BANK_TEST_PW", "s3cret!")
    with SftpTestServer(root, username="bank", password="s3cret!") as server:
        _sftp_channel(reviewer, clerk, server, password_env="SHEBAO_BANK_TEST_PW",
                      fingerprint="SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        icbc = files["ICBC"]
        with pytest.raises(BankError) as exc:
            bank_file_deliver(bank_file=icbc, user=clerk)
        assert "主机指纹" in str(exc.value) and "不符，已断开，未传输任何文件" in str(exc.value)
        assert "s3cret" not in str(exc.value) and not list(out.iterdir())
        assert BankTransfer.objects.get().outcome == OUT.FAILED
        _sftp_channel(reviewer, clerk, server, password_env="SHEBAO_BANK_TEST_PW")
        assert bank_file_deliver(bank_file=icbc, user=clerk).outcome == OUT.SENT
        assert (out / icbc.file_name).exists()
        monkeypatch.delenv("SHEBAO_BANK_TEST_PW")
        with pytest.raises(BankError) as exc:
            bank_file_deliver(bank_file=files["ABC"], user=clerk)
        assert "没有启用的传输通道" in str(exc.value)  # ABC has none; ICBC's secret is checked when used


def test_sftp_channel_needs_a_fingerprint(reviewer, clerk):
    with pytest.raises(BankError) as exc:
        bank_channel_save(user=reviewer, bank="ICBC", kind="sftp", host="10.1.1.1", username="u", out_dir="/o",
                          in_dir="/i", password_env="X")
    assert str(exc.value) == "SFTP 通道须登记主机指纹（SHA256:… ，ssh-keygen -lf 显示的格式）"
    assert not BankChannel.objects.exists()


def test_transfer_page_and_deliver_page(client, tmp_path, files, reviewer, clerk):
    out, inbox = _folders(tmp_path / "icbc")
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                      import_user=clerk)
    client.force_login(clerk)
    icbc = files["ICBC"]
    url = reverse("bank:file_deliver", args=[icbc.pk])
    assert 'id="confirm-deliver"' in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 302 and (out / icbc.file_name).exists()
    assert 'id="deliver-done"' in client.get(url).content.decode()
    page = client.get(reverse("bank:transfers")).content.decode()
    assert icbc.file_name in page and "已发送" in page
    client.force_login(reviewer)
    page = client.get(reverse("bank:channels")).content.decode()
    assert str(out) in page and "clerk1" in page


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_send_the_file_once(tmp_path):
    from shebao.bank.tests.helpers import approved_run, make_person
    from shebao.payroll.tests.helpers import make_user

    clerk = make_user("clerk1", roles=("clerk",))
    reviewer = make_user("rev1", roles=("reviewer",))
    run = approved_run([(make_person("王五", "6222020000001111"), "10.00")], clerk, reviewer)
    [icbc] = bank_export(runs=[run], template=BankTemplate.objects.get(code="standard"), user=clerk)
    out, inbox = _folders(tmp_path / "icbc")
    bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox))
    outcomes = []
    barrier = threading.Barrier(2)

    def deliver():
        try:
            barrier.wait()
            bank_file_deliver(bank_file=icbc, user=clerk)
            outcomes.append("sent")
        except BankError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if o != "sent"]
    assert outcomes.count("sent") == 1 and len(refused) == 1 and refused[0].endswith("发送，不能重复发送")
    assert BankTransfer.objects.filter(direction="out", outcome="sent").count() == 1
    assert len(os.listdir(out)) == 1


def test_a_channel_cannot_reach_outside_its_roots(tmp_path, settings, files, reviewer, clerk):
    settings.SHEBAO_BANK_SHARES = tmp_path / "shares"
    settings.SHEBAO_BANK_SECRETS = tmp_path / "secrets"
    inside = tmp_path / "shares" / "icbc"
    out, inbox = _folders(inside)
    cases = [
        ({"kind": "folder", "out_dir": str(out), "in_dir": "/etc"}, "回盘接收目录 /etc 不在银行共享目录"),
        ({"kind": "folder", "out_dir": str(inside / ".." / ".." / "x"), "in_dir": str(inbox)}, "报盘发送目录"),
        ({"kind": "sftp", "host": "10.1.1.1", "username": "u", "out_dir": "/o", "in_dir": "/i",
          "host_key_fingerprint": "SHA256:x", "password_env": "DATABASE_URL"}, "口令环境变量须以 SHEBAO_BANK_ 开头"),
        ({"kind": "sftp", "host": "10.1.1.1", "username": "u", "out_dir": "/o", "in_dir": "/i",
          "host_key_fingerprint": "SHA256:x", "password_file": "/etc/shadow"}, "口令文件 /etc/shadow 不在银行密钥目录"),
    ]
    for kw, message in cases:
        with pytest.raises(BankError) as exc:
            bank_channel_save(user=reviewer, bank="ICBC", import_user=clerk, **kw)
        assert message in str(exc.value)
    assert not BankChannel.objects.exists()
    channel = bank_channel_save(user=reviewer, bank="ICBC", kind="folder", out_dir=str(out), in_dir=str(inbox),
                                import_user=clerk)
    BankChannel.objects.filter(pk=channel.pk).update(in_dir=str(tmp_path))  # changed behind the page's back
    (tmp_path / "keep.txt").write_bytes(b"not a return")
    result = bank_returns_pick_up(settle=0)
    assert result.failed and "传输通道设置不安全，未连接" in result.failed[0]
    assert (tmp_path / "keep.txt").exists() and not (tmp_path / "rejected").exists()
    with pytest.raises(BankError) as exc:
        bank_file_deliver(bank_file=files["ICBC"], user=clerk)
    assert str(exc.value).startswith(f"报盘文件 {files['ICBC'].batch_no} 发送失败：传输通道设置不安全，未连接：")
    assert not list(out.iterdir())

"""银行专线 transport services: the channel of each bank, delivering a payment file, and picking up the
bank's return files. Every transfer is logged (``BankTransfer``: direction, file, size, sha256, time,
outcome, message).

Rules:
- A payment file is delivered at most once (the row lock, then the database's unique delivery row):
  sending the same batch twice could pay twice. A failed attempt is logged and may be retried.
- A picked-up return goes through the same whole-file check and import as the return page
  (``bank_return_check`` / ``bank_return_import``), as the channel's import user: imported whole, or
  refused whole — then parked in ``rejected/`` with its reason beside it and nothing written. A file
  whose sha256 was imported before is skipped (and moved to ``imported/``). A file of another bank's
  batch is refused. A file still being written (changed in the last ``settle`` seconds) waits."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from shebao.bank.formats import BankFileError
from shebao.bank.models import BankChannel, BankFile, BankTransfer, ReturnFile
from shebao.bank.services import BankError, _find_bank_file, _read_content, bank_return_import
from shebao.bank.transport import TransportError, channel_problems, open_transport
from shebao.common.audit import audit_record, snapshot
from shebao.common.policy import check, rule
from shebao.common.policy import denial as policy_denial

SETTLE_SECONDS = 120  # a return file not written to for this long is complete
# the right to import a return (the return page's): the channel's import user must hold it
IMPORT_RULE = rule("payroll.export_run", county=True, note="回盘导入：报盘权限，全市范围")

Outcome = BankTransfer.Outcome
Direction = BankTransfer.Direction


# --------------------------------------------------------------------------------------------------
# channels

CHANNEL_FIELDS = ["bank", "kind", "active", "out_dir", "in_dir", "host", "port", "username", "key_path",
                  "password_env", "password_file", "host_key_fingerprint", "import_user", "notes", "auto_deliver"]


def bank_channel_save(*, user, bank: str, kind: str, out_dir: str, in_dir: str, active: bool = True,
                      host: str = "", port: int = 22, username: str = "", key_path: str = "",
                      password_env: str = "", password_file: str = "", host_key_fingerprint: str = "",
                      import_user=None, notes: str = "", auto_deliver: bool = False) -> BankChannel:
    """Set a bank's delivery channel (one per bank). SFTP needs host, user, the pinned host-key
    fingerprint and a key file or a secret source; the import user must hold the return-import right.
    ``auto_deliver``: the periodic job sends this bank's new payment files as the import user (who then
    must be set); switching it on sets ``auto_since`` to now — files written before are never sent by it.
    Audited (no secret is stored: only where to read it)."""
    from shebao.registry.models import Bank

    if not Bank.objects.filter(code=bank).exists():
        raise BankError(f"未知的开户银行代码“{bank}”")
    if kind not in BankChannel.Kind.values:
        raise BankError("传输方式须为共享目录或 SFTP")
    if not out_dir.strip() or not in_dir.strip():
        raise BankError("须填写报盘发送目录和回盘接收目录")
    if kind == BankChannel.Kind.SFTP:
        if not host.strip() or not username.strip():
            raise BankError("SFTP 通道须填写主机和用户名")
        if not host_key_fingerprint.strip().startswith("SHA256:"):
            raise BankError("SFTP 通道须登记主机指纹（SHA256:… ，ssh-keygen -lf 显示的格式）")
        if not (key_path or password_env or password_file):
            raise BankError("SFTP 通道须设置私钥文件，或口令环境变量/口令文件")
        if not 1 <= port <= 65535:
            raise BankError("端口须在 1–65535 之间")
    if auto_deliver and import_user is None:
        raise BankError("自动发送须设置导入身份（自动发送和接收回盘都以该用户的名义进行）")
    if import_user is not None:
        try:
            check(import_user, IMPORT_RULE)
        except PermissionDenied as exc:
            raise BankError(f"导入身份 {import_user.get_username()}：{exc}") from None
    probe = BankChannel(kind=kind, out_dir=out_dir.strip(), in_dir=in_dir.strip(), key_path=key_path.strip(),
                        password_file=password_file.strip(), password_env=password_env.strip())
    problems = channel_problems(probe)
    if problems:
        raise BankError("；".join(problems))
    values = {"kind": kind, "active": active, "out_dir": out_dir.strip(), "in_dir": in_dir.strip(),
              "host": host.strip(), "port": port, "username": username.strip(), "key_path": key_path.strip(),
              "password_env": password_env.strip(), "password_file": password_file.strip(),
              "host_key_fingerprint": host_key_fingerprint.strip(), "import_user": import_user,
              "notes": notes.strip()[:200], "auto_deliver": bool(auto_deliver)}
    with transaction.atomic():
        channel = BankChannel.objects.select_for_update().filter(bank=bank).first()
        before = snapshot(channel, CHANNEL_FIELDS) if channel else None
        if channel is None:
            try:
                with transaction.atomic():
                    channel = BankChannel.objects.create(
                        bank=bank, auto_since=timezone.now() if auto_deliver else None, **values)
            except IntegrityError:  # set at the same moment by another request: that one stands
                raise BankError(f"{bank} 的传输通道刚被他人设置，请刷新后再修改") from None
        else:
            was_auto = channel.auto_deliver
            for k, v in values.items():
                setattr(channel, k, v)
            if snapshot(channel, CHANNEL_FIELDS) == before:
                return channel
            if channel.auto_deliver and not was_auto:
                channel.auto_since = timezone.now()
            channel.save()
        audit_record(user=user, action="update" if before else "create", obj=channel,
                     summary=f"{'修改' if before else '设置'}传输通道 {bank}（{channel.get_kind_display()}）",
                     before=before, after=snapshot(channel, CHANNEL_FIELDS))
    return channel


# --------------------------------------------------------------------------------------------------
# delivery (报盘发送)


def bank_file_delivered(bank_file: BankFile) -> BankTransfer | None:
    return BankTransfer.objects.filter(bank_file=bank_file, direction=Direction.OUT, outcome=Outcome.SENT).first()


def bank_file_deliver(*, bank_file: BankFile, user, auto: bool = False) -> BankTransfer:
    """Send a payment file, as stored (its sha256 checked), into its bank's channel. Refused when the
    bank has no active channel or the file was delivered before; a transport failure is logged
    (outcome 传输失败) and raised as ``BankError`` — the file may be sent again."""
    channel = BankChannel.objects.filter(bank=bank_file.bank, active=True).first()
    if channel is None:
        raise BankError(f"开户银行 {bank_file.bank} 没有启用的传输通道，请先设置")
    failure = None
    with transaction.atomic():
        BankFile.objects.select_for_update().filter(pk=bank_file.pk).first()  # one delivery at a time
        done = bank_file_delivered(bank_file)
        if done is not None:
            raise BankError(f"报盘文件 {bank_file.batch_no} 已于 {done.at:%Y-%m-%d %H:%M} 发送，不能重复发送")
        content = _read_content(BankFile, bank_file.pk)
        digest = hashlib.sha256(content).hexdigest()
        if digest != bank_file.sha256:  # pragma: no cover - the stored bytes never change
            raise BankError(f"报盘文件 {bank_file.batch_no} 的内容与其校验和不符，已停止发送，请联系信息科")
        log = {"channel": channel, "bank": bank_file.bank, "direction": Direction.OUT,
               "file_name": bank_file.file_name, "size": len(content), "sha256": digest, "bank_file": bank_file,
               "user": user}
        try:
            with open_transport(channel) as transport:
                transport.put(bank_file.file_name, content)
        except TransportError as exc:
            failure = str(exc)
            BankTransfer.objects.create(**log, outcome=Outcome.FAILED, message=failure)
        else:
            transfer = BankTransfer.objects.create(**log, outcome=Outcome.SENT,
                                                   message=f"已{'自动' if auto else ''}发送到 "
                                                           f"{channel.get_kind_display()} {channel.out_dir}")
            audit_record(user=user, action="bank_deliver", obj=bank_file,
                         summary=f"{'自动' if auto else ''}发送报盘文件 {bank_file.batch_no} 到 {bank_file.bank}"
                                 f"（{channel.get_kind_display()}）",
                         after={"batch_no": bank_file.batch_no, "sha256": digest, "size": len(content),
                                "channel": channel.pk, "transfer": transfer.pk})
    if failure is not None:
        raise BankError(f"报盘文件 {bank_file.batch_no} 发送失败：{failure}")
    return transfer


AUTO_RETRY_MINUTES = 10  # a failed automatic delivery is tried again after this long …
AUTO_MAX_FAILURES = 3  # … this many times; then the file waits for a person (发送到银行 on its page)


@dataclass
class DeliveryResult:
    sent: list[str] = field(default_factory=list)  # batch numbers
    failed: list[str] = field(default_factory=list)  # "batch: reason", this round
    given_up: list[str] = field(default_factory=list)  # batch numbers left to a person

    @property
    def message(self) -> str:
        text = f"自动发送 {len(self.sent)} 个"
        if self.failed:
            text += f"，失败 {len(self.failed)} 个（{'；'.join(self.failed)}）"
        if self.given_up:
            text += f"；{len(self.given_up)} 个已连续失败 {AUTO_MAX_FAILURES} 次，须人工发送：{'、'.join(self.given_up)}"
        return text


def bank_files_pending_auto(channel: BankChannel):
    """The payment files the channel's automatic delivery still has to send: its bank's, written since
    ``auto_since``, never sent; with ``failures`` (failed attempts) and ``last_failure``."""
    sent = BankTransfer.objects.filter(bank_file=OuterRef("pk"), direction=Direction.OUT, outcome=Outcome.SENT)
    failed = Q(transfers__direction=Direction.OUT, transfers__outcome=Outcome.FAILED)
    return (BankFile.objects.filter(bank=channel.bank, created_at__gte=channel.auto_since)
            .filter(~Exists(sent)).annotate(failures=Count("transfers", filter=failed),
                                             last_failure=Max("transfers__at", filter=failed))
            .defer("content", "definition").order_by("id"))


def bank_files_auto_deliver(*, now=None) -> DeliveryResult:
    """自动发送: every active channel with automatic delivery sends its bank's new payment files (see
    ``bank_files_pending_auto``) through ``bank_file_deliver`` — each at most once, as the channel's
    import user, who must still hold the right. A failed attempt is logged and tried again after
    ``AUTO_RETRY_MINUTES``, at most ``AUTO_MAX_FAILURES`` times. Idempotent: a second run right after
    sends nothing."""
    now = now or timezone.now()
    result = DeliveryResult()
    for ch in (BankChannel.objects.filter(active=True, auto_deliver=True, auto_since__isnull=False)
               .select_related("import_user").order_by("bank")):
        user = ch.import_user
        problem = "未设置导入身份" if user is None else policy_denial(user, IMPORT_RULE)
        if problem:
            result.failed.append(f"{ch.bank}：{problem}，未自动发送")
            continue
        for f in bank_files_pending_auto(ch):
            if f.failures >= AUTO_MAX_FAILURES:
                result.given_up.append(f.batch_no)
                continue
            if f.last_failure is not None and now - f.last_failure < dt.timedelta(minutes=AUTO_RETRY_MINUTES):
                continue
            try:
                bank_file_deliver(bank_file=f, user=user, auto=True)
            except BankError as exc:
                if bank_file_delivered(f) is None:  # sent by a person at the same moment: nothing to say
                    result.failed.append(f"{f.batch_no}：{exc}")
            else:
                result.sent.append(f.batch_no)
    return result


# --------------------------------------------------------------------------------------------------
# pick-up (回盘接收)


@dataclass
class PickupResult:
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    failed: list[str] = field(default_factory=list)  # channel-level problems (connection, configuration)

    def add(self, other: PickupResult) -> None:
        self.imported += other.imported
        self.skipped += other.skipped
        self.rejected += other.rejected
        self.failed += other.failed

    @property
    def message(self) -> str:
        text = f"导入 {self.imported} 个，跳过（已导入）{self.skipped} 个，拒绝 {self.rejected} 个"
        return text + ("；" + "；".join(self.failed) if self.failed else "")


def bank_returns_pick_up(*, channel: BankChannel | None = None, settle: float | None = None) -> PickupResult:
    """Pick up the return files waiting in every active channel (or in ``channel``) — see the module
    docstring. Each file is imported in its own transaction; a channel that cannot be reached is logged
    and reported, the others go on. ``settle``: seconds a file must be unchanged (``SETTLE_SECONDS``)."""
    settle = SETTLE_SECONDS if settle is None else settle
    result = PickupResult()
    channels = [channel] if channel is not None else list(
        BankChannel.objects.filter(active=True).select_related("import_user").order_by("bank"))
    for ch in channels:
        result.add(_pick_up(ch, settle))
    return result


def _log(ch: BankChannel, outcome: str, message: str, *, name: str = "", data: bytes | None = None,
         return_file: ReturnFile | None = None, bank_file: BankFile | None = None) -> BankTransfer:
    return BankTransfer.objects.create(
        channel=ch, bank=ch.bank, direction=Direction.IN, file_name=name[:200], outcome=outcome, message=message,
        size=len(data) if data is not None else None, sha256=hashlib.sha256(data).hexdigest() if data else "",
        return_file=return_file, bank_file=bank_file, user=ch.import_user)


def _pick_up(ch: BankChannel, settle: float) -> PickupResult:
    result = PickupResult()
    user = ch.import_user
    problem = None
    if user is None:
        problem = "未设置导入身份"
    else:
        try:
            check(user, IMPORT_RULE)
        except PermissionDenied as exc:
            problem = f"导入身份 {user.get_username()}：{exc}"
    if problem:
        _log(ch, Outcome.FAILED, f"{problem}，回盘未接收")
        result.failed.append(f"{ch.bank}：{problem}")
        return result
    try:
        with open_transport(ch) as transport:
            for f in transport.list_in(settle=settle):
                _take(ch, transport, f.name, result)
    except TransportError as exc:
        _log(ch, Outcome.FAILED, str(exc))
        result.failed.append(f"{ch.bank}：{exc}")
    return result


def _take(ch: BankChannel, transport, name: str, result: PickupResult) -> None:
    data = transport.get(name)
    digest = hashlib.sha256(data).hexdigest()
    seen = ReturnFile.objects.filter(sha256=digest).select_related("bank_file").first()
    if seen is not None:
        _log(ch, Outcome.SKIPPED, f"该文件已于回盘 #{seen.pk}（批次 {seen.bank_file.batch_no}）导入，未做任何更改",
             name=name, data=data, return_file=seen, bank_file=seen.bank_file)
        result.skipped += 1
        transport.park(name, "imported")
        return
    try:
        answered = _find_bank_file(data, None)  # the batch its summary line claims (the import checks all)
        if answered.bank != ch.bank:
            raise BankFileError([(None, f"批次 {answered.batch_no} 是 {answered.bank} 的报盘文件，"
                                        f"不是本通道（{ch.bank}）的")], "回盘文件被拒绝")
        imported = bank_return_import(data=data, filename=name, user=ch.import_user)
    except (BankFileError, BankError) as exc:
        reason = str(exc)
        _log(ch, Outcome.REJECTED, reason, name=name, data=data)
        result.rejected += 1
        transport.park(name, "rejected", note=reason)
        return
    rf = imported.return_file
    if imported.created:
        _log(ch, Outcome.IMPORTED, f"已导入回盘 #{rf.pk}（批次 {rf.bank_file.batch_no}）：{imported.note}",
             name=name, data=data, return_file=rf, bank_file=rf.bank_file)
        result.imported += 1
    else:
        _log(ch, Outcome.SKIPPED, imported.note, name=name, data=data, return_file=rf, bank_file=rf.bank_file)
        result.skipped += 1
    transport.park(name, "imported")

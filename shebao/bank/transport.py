"""Moving files over the bank 专线: a mounted folder or SFTP (paramiko), behind one small interface.
No database here; ``shebao.bank.transfer`` decides what is sent and what a picked-up file becomes.

Both kinds write a file whole or not at all (a hidden ``.NAME.part`` first, then renamed), list only
regular files in the in-folder that are not hidden and have not been written to for ``settle``
seconds (a file the bank is still writing is left for the next poll), and park a picked-up file by
moving it into a sub-folder of the in-folder (``imported/``, ``rejected/``), never deleting it.

SFTP: the server's host key must have the pinned fingerprint (``SHA256:…`` as ``ssh-keygen -lf``
prints it) before anything is sent; authentication is by private key (``key_path``, its passphrase if
any from the secret) or by password (the secret). The secret is read when connecting from the
environment variable ``password_env`` or the file ``password_file``; it is never stored in the
database nor logged."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import posixpath
import stat
import time
from dataclasses import dataclass
from pathlib import Path

CONNECT_TIMEOUT = 20  # seconds


class TransportError(Exception):
    """A transfer could not be made; ``str()`` is the Chinese message (no secret in it)."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    mtime: float


def fingerprint(key_bytes: bytes) -> str:
    """The OpenSSH SHA256 fingerprint of a public key blob: ``SHA256:`` + unpadded base64."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key_bytes).digest()).decode("ascii").rstrip("=")


SECRET_ENV_PREFIX = "SHEBAO_BANK_"


def _inside(path: str, root) -> bool:
    """``path`` (symbolic links resolved) lies under ``root``."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, ValueError):
        return False


def channel_problems(channel) -> list[str]:
    """What makes a channel's configuration unsafe to use: a folder outside the shares root, a secret
    file outside the secrets folder, a password variable not named ``SHEBAO_BANK_…`` (settings
    ``SHEBAO_BANK_SHARES`` / ``SHEBAO_BANK_SECRETS``). Checked when saving and again when connecting."""
    from django.conf import settings

    out = []
    if channel.kind == "folder":
        for label, path in (("报盘发送目录", channel.out_dir), ("回盘接收目录", channel.in_dir)):
            if not _inside(path, settings.SHEBAO_BANK_SHARES):
                out.append(f"{label} {path} 不在银行共享目录 {settings.SHEBAO_BANK_SHARES} 之下")
    else:
        for label, path in (("私钥文件", channel.key_path), ("口令文件", channel.password_file)):
            if path and not _inside(path, settings.SHEBAO_BANK_SECRETS):
                out.append(f"{label} {path} 不在银行密钥目录 {settings.SHEBAO_BANK_SECRETS} 之下")
        if channel.password_env and not (channel.password_env.startswith(SECRET_ENV_PREFIX)
                                         and len(channel.password_env) > len(SECRET_ENV_PREFIX)):
            out.append(f"口令环境变量须以 {SECRET_ENV_PREFIX} 开头，如 {SECRET_ENV_PREFIX}ICBC_PASSWORD")
    return out


def channel_secret(channel) -> str | None:
    """The SFTP password or key passphrase of a channel, from its environment variable or secret file."""
    if channel.password_env:
        value = os.environ.get(channel.password_env)
        if value is None:
            raise TransportError(f"环境变量 {channel.password_env} 未设置（SFTP 口令）")
        return value
    if channel.password_file:
        try:
            return Path(channel.password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TransportError(f"无法读取口令文件 {channel.password_file}：{exc.strerror or exc}") from None
    return None


class FolderTransport:
    """A folder: a share of the bank's front-end machine mounted on this server."""

    def __init__(self, *, out_dir: str, in_dir: str):
        self.out_dir = Path(out_dir)
        self.in_dir = Path(in_dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def put(self, name: str, data: bytes) -> None:
        try:
            if not self.out_dir.is_dir():
                raise TransportError(f"发送目录 {self.out_dir} 不存在或未挂载")
            tmp = self.out_dir / f".{name}.part"
            tmp.write_bytes(data)
            os.replace(tmp, self.out_dir / name)
            if (self.out_dir / name).stat().st_size != len(data):
                raise TransportError(f"{name} 写入后大小不符")
        except OSError as exc:
            raise TransportError(f"写入 {self.out_dir / name} 失败：{exc.strerror or exc}") from None

    def list_in(self, *, settle: float = 0) -> list[RemoteFile]:
        if not self.in_dir.is_dir():
            raise TransportError(f"接收目录 {self.in_dir} 不存在或未挂载")
        now = time.time()
        out = []
        for p in sorted(self.in_dir.iterdir()):
            st = p.stat()
            if p.name.startswith(".") or not stat.S_ISREG(st.st_mode) or now - st.st_mtime < settle:
                continue
            out.append(RemoteFile(p.name, st.st_size, st.st_mtime))
        return out

    def get(self, name: str) -> bytes:
        try:
            return (self.in_dir / name).read_bytes()
        except OSError as exc:
            raise TransportError(f"读取 {name} 失败：{exc.strerror or exc}") from None

    def park(self, name: str, folder: str, *, note: str | None = None) -> str:
        """Move ``name`` into ``in_dir/folder`` (a name already there gets a time suffix); with ``note``
        a ``NAME.reason.txt`` (UTF-8) beside it. Returns the parked name."""
        try:
            target_dir = self.in_dir / folder
            target_dir.mkdir(exist_ok=True)
            target = _free_name(name, lambda n: (target_dir / n).exists())
            os.replace(self.in_dir / name, target_dir / target)
            if note is not None:
                (target_dir / f"{target}.reason.txt").write_text(note + "\n", encoding="utf-8")
            return target
        except OSError as exc:
            raise TransportError(f"移动 {name} 到 {folder}/ 失败：{exc.strerror or exc}") from None


class SftpTransport:
    """An SFTP connection (paramiko), opened on construction, host key checked first."""

    def __init__(self, *, host: str, port: int, username: str, fingerprint_pinned: str, out_dir: str, in_dir: str,
                 key_path: str = "", secret: str | None = None):
        import paramiko

        self.out_dir = out_dir
        self.in_dir = in_dir
        self._transport = None
        self.sftp = None
        try:
            t = paramiko.Transport((host, port))
            self._transport = t
            t.banner_timeout = CONNECT_TIMEOUT
            t.start_client(timeout=CONNECT_TIMEOUT)
            got = fingerprint(t.get_remote_server_key().asbytes())
            if got != fingerprint_pinned.strip():
                raise TransportError(f"SFTP 主机 {host}:{port} 的主机指纹 {got} 与登记的 {fingerprint_pinned} 不符，"
                                     f"已断开，未传输任何文件")
            if key_path:
                try:
                    key = paramiko.PKey.from_path(key_path, password=secret or None)
                except (OSError, ValueError, paramiko.SSHException) as exc:
                    raise TransportError(f"无法读取私钥文件 {key_path}：{exc}") from None
                t.auth_publickey(username, key)
            elif secret is not None:
                t.auth_password(username, secret)
            else:
                raise TransportError("SFTP 通道须设置私钥文件，或口令环境变量/口令文件")
            if not t.is_authenticated():
                raise TransportError(f"SFTP 用户 {username} 认证失败")
            self.sftp = paramiko.SFTPClient.from_transport(t)
        except TransportError:
            self.close()
            raise
        except paramiko.AuthenticationException:
            self.close()
            raise TransportError(f"SFTP 用户 {username} 认证失败") from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            self.close()
            raise TransportError(f"无法连接 SFTP 主机 {host}:{port}：{exc}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.sftp is not None:
            self.sftp.close()
            self.sftp = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _call(self, what: str, fn, *args):
        import paramiko

        try:
            return fn(*args)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise TransportError(f"{what}失败：{exc}") from None

    def put(self, name: str, data: bytes) -> None:
        tmp = posixpath.join(self.out_dir, f".{name}.part")
        target = posixpath.join(self.out_dir, name)
        self._call(f"上传 {name} ", self.sftp.putfo, io.BytesIO(data), tmp, len(data), None, True)
        self._call(f"重命名 {name} ", self.sftp.posix_rename, tmp, target)
        size = self._call(f"核对 {name} ", self.sftp.stat, target).st_size
        if size != len(data):
            raise TransportError(f"{name} 上传后大小 {size} 与文件 {len(data)} 字节不符")

    def list_in(self, *, settle: float = 0) -> list[RemoteFile]:
        now = time.time()
        entries = self._call(f"列出接收目录 {self.in_dir} ", self.sftp.listdir_attr, self.in_dir)
        return sorted((RemoteFile(e.filename, e.st_size or 0, e.st_mtime or 0) for e in entries
                       if not e.filename.startswith(".") and stat.S_ISREG(e.st_mode or 0)
                       and now - (e.st_mtime or 0) >= settle), key=lambda f: f.name)

    def get(self, name: str) -> bytes:
        buf = io.BytesIO()
        self._call(f"下载 {name} ", self.sftp.getfo, posixpath.join(self.in_dir, name), buf)
        return buf.getvalue()

    def park(self, name: str, folder: str, *, note: str | None = None) -> str:
        target_dir = posixpath.join(self.in_dir, folder)
        try:
            self.sftp.stat(target_dir)
        except OSError:
            self._call(f"建立目录 {folder}/ ", self.sftp.mkdir, target_dir)
        existing = set(self._call(f"列出 {folder}/ ", self.sftp.listdir, target_dir))
        target = _free_name(name, lambda n: n in existing)
        self._call(f"移动 {name} 到 {folder}/ ", self.sftp.posix_rename, posixpath.join(self.in_dir, name),
                   posixpath.join(target_dir, target))
        if note is not None:
            data = (note + "\n").encode("utf-8")
            self._call("写入原因文件 ", self.sftp.putfo, io.BytesIO(data),
                       posixpath.join(target_dir, f"{target}.reason.txt"), len(data), None, True)
        return target


def _free_name(name: str, taken) -> str:
    if not taken(name):
        return name
    stamp = time.strftime("%Y%m%d%H%M%S")
    n = 1
    while taken(candidate := f"{name}.{stamp}-{n}"):
        n += 1
    return candidate


def open_transport(channel):
    """The transport of a ``BankChannel`` (connected, for SFTP). ``TransportError`` when it cannot be."""
    problems = channel_problems(channel)
    if problems:
        raise TransportError("传输通道设置不安全，未连接：" + "；".join(problems))
    if channel.kind == "folder":
        return FolderTransport(out_dir=channel.out_dir, in_dir=channel.in_dir)
    return SftpTransport(host=channel.host, port=channel.port, username=channel.username,
                         fingerprint_pinned=channel.host_key_fingerprint, out_dir=channel.out_dir,
                         in_dir=channel.in_dir, key_path=channel.key_path, secret=channel_secret(channel))

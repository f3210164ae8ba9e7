"""A real SFTP server for the tests, on 127.0.0.1 in a thread (paramiko's ServerInterface and
SFTPServer over a local folder). It accepts one user by password and/or by public key, and serves the
folder ``root`` as ``/``."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer, SFTPServerInterface
from paramiko.sftp import SFTP_FAILURE, SFTP_NO_SUCH_FILE, SFTP_OK

from shebao.bank.transport import fingerprint


def _errno(exc: OSError) -> int:
    return SFTPServer.convert_errno(exc.errno) if exc.errno else SFTP_FAILURE


class _Handle(SFTPHandle):
    def stat(self):
        try:
            return SFTPAttributes.from_stat(os.fstat(self.readfile.fileno() if hasattr(self, "readfile")
                                                     else self.writefile.fileno()))
        except OSError as exc:
            return _errno(exc)


class _Folder(SFTPServerInterface):
    root: Path

    def __init__(self, server, *args, **kwargs):
        super().__init__(server, *args, **kwargs)

    def _local(self, path: str) -> Path:
        return self.root / self.canonicalize(path).lstrip("/")

    def list_folder(self, path):
        try:
            out = []
            for p in sorted(self._local(path).iterdir()):
                attr = SFTPAttributes.from_stat(p.stat())
                attr.filename = p.name
                out.append(attr)
            return out
        except OSError as exc:
            return _errno(exc)

    def stat(self, path):
        try:
            return SFTPAttributes.from_stat(self._local(path).stat())
        except OSError as exc:
            return _errno(exc)

    lstat = stat

    def open(self, path, flags, attr):
        local = self._local(path)
        try:
            fd = os.open(local, flags, 0o644)
        except OSError as exc:
            return _errno(exc)
        if flags & os.O_WRONLY:
            mode = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            mode = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            mode = "rb"
        f = os.fdopen(fd, mode)
        handle = _Handle(flags)
        handle.filename = str(local)
        handle.readfile = f
        handle.writefile = f
        return handle

    def remove(self, path):
        try:
            self._local(path).unlink()
        except OSError as exc:
            return _errno(exc)
        return SFTP_OK

    def rename(self, oldpath, newpath):
        if self._local(newpath).exists():
            return SFTP_FAILURE
        return self.posix_rename(oldpath, newpath)

    def posix_rename(self, oldpath, newpath):
        try:
            os.replace(self._local(oldpath), self._local(newpath))
        except OSError as exc:
            return _errno(exc)
        return SFTP_OK

    def mkdir(self, path, attr):
        try:
            self._local(path).mkdir()
        except OSError as exc:
            return _errno(exc)
        return SFTP_OK

    def rmdir(self, path):
        try:
            self._local(path).rmdir()
        except OSError as exc:
            return _errno(exc)
        return SFTP_OK

    def chattr(self, path, attr):
        return SFTP_OK if self._local(path).exists() else SFTP_NO_SUCH_FILE


class _Auth(paramiko.ServerInterface):
    def __init__(self, username: str, password: str | None, client_key: paramiko.PKey | None):
        self.username, self.password, self.client_key = username, password, client_key

    def check_auth_password(self, username, password):
        ok = self.password is not None and (username, password) == (self.username, self.password)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = self.client_key is not None and username == self.username and key.asbytes() == self.client_key.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username):
        return "password,publickey"

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class SftpTestServer:
    """``with SftpTestServer(root, username="bank", password="pw") as server:`` — ``server.port``,
    ``server.fingerprint`` (the host key's, to pin). Each connection is served in its own thread."""

    host_key = None  # generated once per test session (RSA generation takes a moment)

    def __init__(self, root: Path, *, username: str = "bank", password: str | None = None,
                 client_key: paramiko.PKey | None = None):
        if SftpTestServer.host_key is None:
            SftpTestServer.host_key = paramiko.RSAKey.generate(2048)
        self.root = Path(root)
        self.auth = (username, password, client_key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.fingerprint = fingerprint(self.host_key.asbytes())
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._transports: list[paramiko.Transport] = []

    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.sock.close()
        for tr in self._transports:
            tr.close()

    def _accept(self):
        folder = type("Folder", (_Folder,), {"root": self.root})
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            tr = paramiko.Transport(conn)
            tr.add_server_key(self.host_key)
            tr.set_subsystem_handler("sftp", SFTPServer, folder)
            self._transports.append(tr)
            try:
                tr.start_server(server=_Auth(*self.auth))
            except (paramiko.SSHException, EOFError, OSError):
                tr.close()

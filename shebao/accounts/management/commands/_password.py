"""Reading a password for a command: from the terminal (asked twice) or one line of standard input."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import CommandError


def read_password(*, from_stdin: bool, prompt: str = "密码") -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("标准输入中没有读到密码")
        return password
    if not sys.stdin.isatty():
        raise CommandError("没有终端可以输入密码；请使用 --password-stdin 从标准输入读取")
    first = getpass.getpass(f"{prompt}：")
    second = getpass.getpass(f"再次输入{prompt}：")
    if first != second:
        raise CommandError("两次输入的密码不一致")
    return first

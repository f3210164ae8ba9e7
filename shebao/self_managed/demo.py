"""Registers the 自管人员 demo step (it lives in ``shebao.demo.zg``) with the demo step registry."""

from shebao.demo import zg  # noqa: F401

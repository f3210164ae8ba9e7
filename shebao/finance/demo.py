"""Registers the 特殊业务 demo step (it lives in ``shebao.demo.finance``) with the demo step registry."""

from shebao.demo import finance  # noqa: F401

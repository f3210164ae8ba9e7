"""Registers the 老农保 demo step (it lives in ``shebao.demo.rural``) with the demo step registry."""

from shebao.demo import rural  # noqa: F401

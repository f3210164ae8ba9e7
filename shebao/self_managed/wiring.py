"""Hooks into the shell: menu URLs, the person page section, role permissions."""


def connect() -> None:
    pass

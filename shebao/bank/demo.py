"""The bank's part of a demo reset: no demo data of its own, but the files, returns and transfers made
on the demo's runs (a walk through ``make run`` exports and imports) go before those runs do — their
lines are PROTECTed by the files' lines. Order 48: reset after the finance step (45), before the
老农保 (40) and 自管人员 (30) steps remove their runs."""

from __future__ import annotations

from shebao.demo.steps import demo_step


def bank_demo_reset() -> None:
    from shebao.bank.models import BankFile, BankFileLine, BankTransfer, ReturnFile, ReturnLine

    BankTransfer.objects.all().delete()
    ReturnLine.objects.all().delete()
    ReturnFile.objects.all().delete()
    BankFileLine.objects.all().delete()
    BankFile.objects.all().delete()


@demo_step("bank", order=48, reset=bank_demo_reset)
def bank_demo(scale, rng, progress) -> None:
    """Nothing to load: the demo's bank files are the ones its users make."""
    return None

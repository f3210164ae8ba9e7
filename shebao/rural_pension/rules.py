"""The 老农保 rules that a page shows and a service enforces, stated once.

Each function returns why an act is refused (a Chinese message for the user), or None when it is
allowed. The pages call them to show or hide an action and to explain a refusal before anything is
written; the services call the same functions under the row lock and raise ``RuralError`` with the
same message. A rule changed here changes both.

- ``refund_refusal``: 退款 (退保) — only an account still contributing (缴费 / 中断缴费) is refunded: a
  receiving account is settled by 死亡结算, a refunded or terminated one has its 结算单 already; the
  balance on the date must be above zero; paying by bank needs the person's current bank account.
- ``death_refusal`` / ``death_settle_refusal``: 死亡结算 — an open account only; the heir (代领人) must
  be registered, not the person, alive, and have a bank account when paid by bank.
- ``bank_payee_refusal``: a bank payment (零星发放) needs the payee's current account with its number
  and bank (``payment.nb_payment_create`` refuses by it too).
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext

from shebao.common.money import format_yuan
from shebao.rural_pension.models import OPEN_STATUSES, AccountStatus, RuralAccount, RuralDocument

# the statuses a refund (and 开始领取) starts from: still contributing, not receiving, not closed
REFUNDABLE_STATUSES = (AccountStatus.PAYING, AccountStatus.SUSPENDED)

BANK = RuralDocument.PayMethod.BANK


def bank_payee_refusal(person, *, heir: bool = False) -> str | None:
    """Why ``person`` cannot be paid by bank: no current bank account, or one without its number or
    bank. ``heir``: the message names the person as the heir (死亡结算)."""
    from shebao.registry.selectors import person_current_account

    account = person_current_account(person)
    if account is not None and account.account_number and account.bank:
        return None
    if heir:
        return gettext("代领人 %(heir)s 没有登记银行账户，不能银行代发；请先登记其支付账户，或选择现金支付") % {
            "heir": person.name}
    return gettext("%(name)s 没有登记银行账户，不能银行代发；请先登记支付账户，或选择现金支付") % {"name": person.name}


def account_closed_refusal(account: RuralAccount) -> str | None:
    """A refunded or terminated account: nothing to quote or refund any more."""
    if account.status in OPEN_STATUSES:
        return None
    return gettext("%(name)s 的账户%(status)s，不能再试算或退款") % {
        "name": account.person.name, "status": account.get_status_display()}


def refund_refusal(account: RuralAccount, *, amount: Decimal | None = None, pay_method: str | None = None) -> str | None:
    """Why this account may not be refunded (None: it may). Without ``amount`` (the quote's balance)
    only the account's state is judged (to offer 退款 at all); with it, also that there is something to
    pay and, when ``pay_method`` is bank, that the person has a bank account."""
    if refusal := account_closed_refusal(account):
        return refusal
    if account.status == AccountStatus.RECEIVING:
        return gettext("%(name)s 正在按月领取养老金，不能退保；人员死亡请办理死亡结算") % {"name": account.person.name}
    if account.status not in REFUNDABLE_STATUSES:  # pragma: no cover - every open status is named above
        return gettext("%(name)s 的账户%(status)s，不能退款") % {
            "name": account.person.name, "status": account.get_status_display()}
    if amount is None:
        return None
    if amount <= 0:
        return gettext("%(name)s 的账户余额为 %(amount)s，没有可退金额") % {
            "name": account.person.name, "amount": format_yuan(amount)}
    if pay_method == BANK:
        return bank_payee_refusal(account.person)
    return None


def death_refusal(account: RuralAccount) -> str | None:
    """死亡结算 is for an open account (contributing or receiving)."""
    if account.status in OPEN_STATUSES:
        return None
    return gettext("%(name)s 的账户%(status)s，不能办理死亡结算") % {
        "name": account.person.name, "status": account.get_status_display()}


def death_settle_refusal(account: RuralAccount, *, heir, amount: Decimal, pay_method: str | None) -> str | None:
    """Why a death settlement that pays ``amount`` to ``heir`` cannot be made now (None: it can): no
    heir registered, the heir is the person, the heir is dead, or a bank payment to an heir without a
    bank account (nothing is paid when the amount is zero, so no account is needed then)."""
    if heir is None:
        return gettext("请先登记代领人（领取死亡结算款项的人）")
    if heir.pk == account.person_id:
        return gettext("代领人不能是本人")
    if heir.death_date:
        return gettext("代领人 %(heir)s 已死亡，请先变更代领人") % {"heir": heir.name}
    if amount > 0 and pay_method == BANK:
        return bank_payee_refusal(heir, heir=True)
    return None

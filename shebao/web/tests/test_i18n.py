"""English as the second language on the 自管人员 and accounts pages: switched to English (the top bar's
language switch), every heading, label, table header, button … is English — only data (names, towns,
benefit items, reasons kept as data) may stay Chinese; and the Chinese pages are exactly as before."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal as D
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from python_calamine import CalamineWorkbook

from shebao.benefits.models import (
    Adjustment,
    BenefitAmount,
    BenefitItem,
    Enrollment,
    RaiseRule,
    SuspensionReason,
)
from shebao.benefits.services import adjustment_create, enrollment_create, scheme_get
from shebao.common.models import AuditEvent
from shebao.payroll.services import payroll_run_approve, payroll_run_compute
from shebao.registry.models import Person, Region
from shebao.registry.services import bank_account_set
from shebao.self_managed.models import RosterImport
from shebao.self_managed.services import income_record
from shebao.web.tests.helpers import id_number, make_person, make_user, once

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# the page's chrome: what the page itself says, as opposed to the data it shows
CHROME_TAGS = {"title", "h1", "h2", "h3", "label", "th", "button", "dt", "summary", "option", "legend"}
CHROME_ATTRS = {"placeholder", "aria-label", "title"}
SAMPLE = Path(__file__).resolve().parents[3] / "docs" / "samples" / "zg_roster_sample.xlsx"


class _Chrome(HTMLParser):
    """Collects the text of the chrome tags (and the a.btn buttons) inside <main>, and the chrome
    attributes anywhere inside <main>."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, collects)
        self.in_main = 0
        self.found: list[tuple[str, str]] = []
        self._texts: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.in_main += 1
        if self.in_main:
            for name in CHROME_ATTRS & attrs.keys():
                if attrs[name]:
                    self.found.append((f"{tag}@{name}", attrs[name]))
        if tag in self.VOID:
            return
        collects = bool(self.in_main) and (tag in CHROME_TAGS or (tag == "a" and "btn" in (attrs.get("class") or "")))
        self.stack.append((tag, collects))
        if collects:
            self._texts.append([])

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, collects = self.stack.pop()
            if collects:
                self.found.append((open_tag, " ".join("".join(self._texts.pop()).split())))
            if open_tag == "main":
                self.in_main -= 1
            if open_tag == tag:
                break

    def handle_data(self, data):
        for texts in self._texts:
            texts.append(data)


def chrome_texts(html: str) -> list[tuple[str, str]]:
    parser = _Chrome()
    parser.feed(html)
    parser.close()
    return parser.found


def data_values() -> list[str]:
    """Chinese that is data, not a label: names of persons and regions, benefit items, the reasons'
    code table, the agency's name — longest first, so a shorter value never masks part of a longer one."""
    values = {settings.SHEBAO_AGENCY_NAME}
    values.update(Person.objects.values_list("name", flat=True))
    values.update(Region.objects.values_list("name", flat=True))
    values.update(BenefitItem.objects.values_list("name", flat=True))
    values.update(SuspensionReason.objects.values_list("name", flat=True))
    values.update(RaiseRule.objects.values_list("name", flat=True))
    return sorted((v for v in values if v), key=len, reverse=True)


def untranslated(html: str, data: list[str]) -> list[tuple[str, str]]:
    """The chrome texts that still hold CJK once the known data values are taken out."""
    left = []
    for where, text in chrome_texts(html):
        rest = text
        for value in data:
            rest = rest.replace(value, "")
        if CJK.search(rest):
            left.append((where, text))
    return left


def test_the_chrome_check_catches_an_untranslated_label():
    html = ('<html><head><title>Persons</title></head><body><nav><a>菜单</a></nav><main>'
            '<h1>王阿三 <span class="tag">Active</span></h1><table><tr><th>Name</th><th>月金额</th></tr>'
            '<tr><td>王阿三</td><td>基本养老金</td></tr></table><label for="x">Town</label><input placeholder="姓名">'
            '<a class="btn ghost" href="/">暂停</a><a href="/">王阿三</a><button>Save<br>保存</button>'
            '<select><option>浒山街道</option><option>全部</option></select></main></body></html>')
    found = untranslated(html, ["王阿三", "浒山街道"])
    assert found == [("th", "月金额"), ("input@placeholder", "姓名"), ("a", "暂停"), ("button", "Save保存"),
                     ("option", "全部")]
    # outside <main> (the shell, not these pages) and in data cells nothing is reported
    assert untranslated("<main><td>月金额</td></main><nav><h2>菜单</h2></nav>", []) == []


def _zg_person(user, name, *, born, start="2026-01", town="浒山街道", items=None):
    person = make_person(name, number=id_number(born), town_name=town)
    bank_account_set(user=user, person=person, bank="ICBC", account_number="6222021234567890128", holder_name=name,
                     valid_from=dt.date(2024, 1, 1))
    enrollment_create(person=person, scheme=scheme_get("ZG"), start_month=start, user=user, service_years="30.5",
                      items=items or {"basic": "2000.00", "extra": "150.00"})
    return person


@pytest.fixture
def world(db):
    clerk = make_user("zgc", roles=["clerk"], all_regions=True, sensitive=True)
    reviewer = make_user("rv", roles=["reviewer"], all_regions=True)
    admin = make_user("boss", roles=["sys_admin", "clerk"], all_regions=True)
    a = _zg_person(clerk, "王阿三", born=dt.date(1950, 3, 1))
    b = _zg_person(clerk, "李四", born=dt.date(1945, 2, 2), town="坎墩街道")
    run = payroll_run_compute(scheme=scheme_get("ZG"), period="2026-01", user=clerk)
    payroll_run_approve(run=run, user=reviewer)
    ea = Enrollment.objects.get(person=a)
    adjustment_create(enrollment=ea, kind="deduction", total="1000.00", reason="多发扣回", user=clerk,
                      monthly_cap="200.00")
    income_record(person=a, kind="overpayment", amount="300.00", received_on=dt.date(2026, 1, 5), source="家属退回",
                  user=clerk)
    return {"clerk": clerk, "admin": admin, "a": a, "b": b}


def _client(user, language: str) -> Client:
    client = Client()
    client.force_login(user, backend="shebao.accounts.backends.LockoutModelBackend")
    if language != "zh-hans":  # Chinese is what a new session gets
        assert client.post("/i18n/setlang/", {"language": language, "next": "/"}).status_code == 302
    return client


def _roster_batch(client) -> RosterImport:
    with SAMPLE.open("rb") as fh:
        response = client.post("/zg/roster/", once({"file": fh}))
    assert response.status_code == 302, response.content.decode()[:1000]
    return RosterImport.objects.get(pk=int(response.url.rstrip("/").rsplit("/", 1)[1]))


def _pages(world, batch) -> dict[str, str]:
    a, b = world["a"].pk, world["b"].pk
    return {
        "list": "/zg/", "person": f"/zg/p/{a}/", "enroll": f"/zg/enroll/?q={world['a'].name}",
        "suspend": f"/zg/p/{a}/status/", "amount": f"/zg/p/{a}/amount/", "adjust": f"/zg/p/{a}/adjust/",
        "terminate": f"/zg/p/{b}/terminate/", "benefits": "/zg/benefits/", "raise": "/zg/raise/", "query": "/zg/query/",
        "query_person": f"/zg/query/{a}/", "roster": "/zg/roster/", "roster_batch": f"/zg/roster/{batch.pk}/",
        "flex": "/zg/flex/", "income": "/zg/income/", "tokens": "/accounts/tokens/", "password": "/accounts/password/",
    }


ADMIN_PAGES = {"users": "/accounts/users/", "user_new": "/accounts/users/new/"}

ENGLISH = {
    "list": ["<h1>Self-managed retirees · Persons</h1>", ">Enroll</a>", "Roster import / export", ">Payment status<",
             ">Total this month<", "Click a name to manage the benefits"],
    "person": [">Suspend</a>", ">Terminate</a>", "<h2>Benefit items this month</h2>", "<dt>First paid month</dt>",
               "<th>Benefit item</th>", "<h2>Arrears / deductions</h2>", ">Monthly cap<", "<h2>Recent payments</h2>",
               " (Approved)</td>"],
    "enroll": ["<h1>Enroll a self-managed retiree</h1>", "1. Find a registered person", ">Enroll and save</button>",
               "基本养老金 (monthly amount):", 'placeholder="ID number / name / pinyin initials"'],
    "suspend": ["<h1>Suspend payment: 王阿三", "Suspension reason:", "The first month not paid",
                "(arrears paid on resumption)", ">OK</button>"],
    "amount": ["<h1>Change benefit amount: 王阿三", "New monthly amount:", "<h2>Benefit amount history</h2>"],
    "adjust": ["<h1>Arrears / deduction: 王阿三", "Deductions only: the most recovered per month"],
    "terminate": ["<h1>Terminate: 李四", "Termination reason:", "Date of death:", ">Preview</button>"],
    "benefits": ["<h1>Self-managed retirees · Benefits</h1>", ">Outstanding<", "By default the table lists the pending"],
    "raise": ["<h1>Self-managed retirees · Batch raise</h1>", "<h2>Raise rule</h2>", "Age supplements:",
              "<h2>Raises applied</h2>", "No raise applied yet"],
    "query": ["<h1>Self-managed retirees · Inquiry</h1>", ">Search</button>"],
    "query_person": ["<h1>Inquiry: 王阿三", "<h2>Payment status history</h2>", "<h2>All payments (1)</h2>",
                     "<th>Breakdown</th>", "<th>Valid from</th>", "Recovered overpayment", ">Set against deductions<"],
    "roster": ["<h1>Self-managed retirees · Roster import / export</h1>", ">Upload and check</button>",
               "<h2>Recent imports</h2>", "Roster file:"],
    "roster_batch": ["<h2>Check passed: the changes to be made</h2>", "Import the changes for 5 persons",
                     "new person; enrolled (from 2024-01, active);", ">Discard</a>"],
    "flex": ["<h1>Self-managed retirees · Flexible payments</h1>", "<h2>New flexible payment</h2>",
             ">Create one-off payment</button>", "Payee&#x27;s ID number:"],
    "income": ["<h1>Self-managed retirees · Income</h1>", "<h2>Record income</h2>", ">Income type<", "家属退回"],
    "tokens": ["<h1>API tokens</h1>", ">Issue new token</button>", "<th>Valid until</th>", "You have no API tokens yet",
               "90 days"],
    "password": ["<h1>Change password</h1>", "<h2>Password rules</h2>", "At least 8 characters;",
                 "New password again", ">Change password</button>"],
    "users": ["<h1>Users</h1>", "All roles", ">New user</a>", "3 users", "<th>Schemes in scope</th>",
              "Clerk, System administrator"],
    "user_new": ["<h1>New user</h1>", "Initial password again", "Self-managed retirees", "Old rural pension",
                 "None ticked means all schemes", ">Back to the user list</a>"],
}


def _check_english(html: str, name: str, data: list[str]) -> None:
    assert 'lang="en"' in html, name
    for text in ENGLISH[name]:
        assert text in html, (name, text)
    assert untranslated(html, data) == [], name


def test_self_managed_and_account_pages_in_english(world):
    clerk = _client(world["clerk"], "en")
    batch = _roster_batch(clerk)
    data = data_values()
    for name, url in _pages(world, batch).items():
        response = clerk.get(url)
        assert response.status_code == 200, (name, url)
        _check_english(response.content.decode(), name, data)
    admin = _client(world["admin"], "en")
    for name, url in ADMIN_PAGES.items():
        _check_english(admin.get(url).content.decode(), name, data)
    edit = admin.get(f"/accounts/users/{world['clerk'].pk}/").content.decode()
    assert "<h1>Edit user zgc</h1>" in edit and untranslated(edit, data) == []
    reset = admin.get(f"/accounts/users/{world['clerk'].pk}/reset-password/").content.decode()
    assert "<h1>Reset password: ZGC (zgc)</h1>" in reset and "Temporary password again" in reset
    assert untranslated(reset, data) == []


def test_login_page_in_english_before_logging_in(world):
    client = Client()
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">Username</label>' in html and ">Log in</button>" in html
    assert "the account is locked for 15 minutes" in html
    assert untranslated(html, data_values()) == []


def test_flash_messages_in_english(world):
    clerk = _client(world["clerk"], "en")
    a = world["a"]
    page = clerk.post(f"/zg/p/{a.pk}/status/", once({"reason": "no_cert", "from_month": "2026-02"}), follow=True)
    assert "Payment to 王阿三 suspended from 2026-02" in page.content.decode()
    page = clerk.post(f"/zg/p/{a.pk}/status/", once({"from_month": "2026-04"}), follow=True)
    assert "Payment to 王阿三 resumed from 2026-04, arrears 4300.00 yuan (2 months)" in page.content.decode()
    page = clerk.post("/zg/income/", {"id_number": "110101199003070000", "kind": "overpayment", "amount": "1",
                                      "received_on": "2026-01-05", "source": "x"})
    assert "No person with this ID number (or the person is outside your scope)" in page.content.decode()
    admin = _client(world["admin"], "en")
    page = admin.post(f"/accounts/users/{world['clerk'].pk}/reset-password/",
                      {"new_password1": "Qw3$rtyU!9", "new_password2": "Qw3$rtyU!9"}, follow=True)
    assert "Password of zgc reset; the user must change it at the next login" in page.content.decode()


def test_raise_page_malformed_age_supplement_shows_the_error_and_writes_nothing(world):
    """年龄倾斜 that is not 岁数:金额 is a form error on the page (it was a server error), in either language."""
    before = (RaiseRule.objects.count(), BenefitAmount.objects.count(), Adjustment.objects.count(),
              AuditEvent.objects.count())
    form = {"name": "2026年调整", "item": "basic", "effective_month": "2026-01", "apply_month": "2026-07",
            "fixed": "50.00", "per_service_year": "2.00", "percent": "1", "age_tilts": "七十:20"}
    english = _client(world["clerk"], "en").post("/zg/raise/", form)
    assert english.status_code == 200
    assert "Age supplement “七十:20” should be written age:amount" in english.content.decode()
    chinese = _client(world["clerk"], "zh-hans").post("/zg/raise/", form)
    assert chinese.status_code == 200
    assert "年龄倾斜“七十:20”格式应为 岁数:金额" in chinese.content.decode()
    assert (RaiseRule.objects.count(), BenefitAmount.objects.count(), Adjustment.objects.count(),
            AuditEvent.objects.count()) == before


def test_roster_file_stays_chinese_whatever_the_page_language(world):
    """The roster layout is Chinese (bank names as the banks are called): an English page reads and
    writes the same file as a Chinese one."""
    clerk = _client(world["clerk"], "en")
    batch = _roster_batch(clerk)
    page = clerk.get(f"/zg/roster/{batch.pk}/").content.decode()
    assert batch.state == "previewed" and batch.error_count == 0
    assert "account registered: ICBC 6222023901000012345" in page
    clerk.post(f"/zg/roster/{batch.pk}/confirm/", once())
    batch.refresh_from_db()
    assert (batch.state, batch.changed_count) == ("applied", 5)
    person = Person.objects.get(name="胡阿毛")
    assert person.bank_accounts.get(valid_to__isnull=True).bank == "ICBC"
    rows = CalamineWorkbook.from_filelike(io.BytesIO(clerk.get("/zg/roster/export/").getvalue())) \
        .get_sheet_by_index(0).to_python()
    assert rows[0][:3] == ["身份证号", "姓名", "待遇项目"]
    basic = next(r for r in rows[1:] if r[1] == "王阿三" and r[2] == "基本养老金")
    assert (basic[5], basic[6], D(str(basic[3]))) == ("正常", "中国工商银行", D("2000.00"))


CHINESE = {
    "list": ["<h1>自管人员 · 人员管理</h1>", ">人员新增</a>", ">当前月发放合计<"],
    "person": ['">暂停</a>', ">减员</a>", "<h2>本月待遇项目</h2>", "<dt>开始发放年月</dt>", "（已审核）</td>"],
    "enroll": ["<h1>自管人员新增</h1>", ">纳入并保存</button>", "基本养老金（月金额）:"],
    "suspend": ["<h1>暂停发放：王阿三", "暂停原因:"],
    "query_person": ["<h1>综合查询：王阿三", "<h2>全部发放记录（1 笔）</h2>", "<th>启用</th><th>停用</th>"],
    "roster_batch": ["确认导入 5 人的变动", "新增人员；纳入自管人员（2024-01 起，正常）；"],
    "tokens": ["<h1>API 令牌</h1>", ">签发新令牌</button>", "90 天"],
    "password": ["<h2>密码要求</h2>", "<li>至少 8 位；</li>"],
}


def test_the_same_pages_in_chinese_are_unchanged(world):
    clerk = _client(world["clerk"], "zh-hans")
    batch = _roster_batch(clerk)
    pages = _pages(world, batch)
    for name, texts in CHINESE.items():
        html = clerk.get(pages[name]).content.decode()
        assert 'lang="zh-hans"' in html, name
        for text in texts:
            assert text in html, (name, text)
    admin = _client(world["admin"], "zh-hans")
    html = admin.get("/accounts/users/").content.decode()
    assert "<h1>用户管理</h1>" in html and "共 3 个用户" in html and "经办员、系统管理员" in html
    html = Client().get("/accounts/login/").content.decode()
    assert '<label for="id_username">用户名</label>' in html and ">登录</button>" in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_english_pages_in_the_browser_keep_their_layout(live_server):
    """Headless Chromium at 1366×768, switched to English with the top bar's EN button: the 自管人员 person
    page and the user list, where the English labels are longest. Nothing runs off the page sideways,
    the page head's buttons stay on one line each. Screenshots i18n-*.png in test-artifacts/."""
    import os

    from playwright.sync_api import expect, sync_playwright

    from shebao.web.tests.helpers import PASSWORD

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    artifacts = Path(__file__).resolve().parents[3] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    clerk = make_user("zgen", roles=["clerk", "sys_admin"], all_regions=True, sensitive=True)
    reviewer = make_user("rven", roles=["reviewer"], all_regions=True)
    person = _zg_person(clerk, "王阿三", born=dt.date(1950, 3, 1))
    run = payroll_run_compute(scheme=scheme_get("ZG"), period="2026-01", user=clerk)
    payroll_run_approve(run=run, user=reviewer)
    adjustment_create(enrollment=Enrollment.objects.get(person=person), kind="deduction", total="1000.00",
                      reason="多发扣回", user=clerk, monthly_cap="200.00")

    def no_sideways_overflow(page):
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], widths

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "zgen")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator(".topbar .user-name")).to_have_text("ZGEN")
        page.click(".topbar form.lang button[value=en]")
        expect(page.locator("html")).to_have_attribute("lang", "en")

        page.goto(f"{live_server.url}/zg/p/{person.pk}/")
        expect(page.locator("h2").first).to_have_text("Payment")
        expect(page.locator(".page-actions")).to_contain_text("Arrears / deduction")
        no_sideways_overflow(page)
        for button in page.locator(".page-actions .btn").all():
            box = button.bounding_box()
            assert box["height"] < 48, (button.inner_text(), box)  # one line of text, not wrapped
        page.screenshot(path=str(artifacts / "i18n-1-zg-person-en.png"), full_page=True)

        page.goto(f"{live_server.url}/accounts/users/")
        expect(page.locator("h1")).to_have_text("Users")
        no_sideways_overflow(page)
        page.screenshot(path=str(artifacts / "i18n-2-users-en.png"), full_page=True)
        browser.close()


# --------------------------------------------------------------------------------------------------
# 老农保: the account list and page, the yearly table, the refund quote, the documents, the rates, the
# 计发系数 table and the import page — English chrome; the 结算单 itself (PDF) stays Chinese


@pytest.fixture
def rural(db):
    from shebao.rural_pension.services import rural_heir_set, rural_refund_settle, rural_years_recompute
    from shebao.rural_pension.tests.factories import HAND_FLOWS, make_account, set_rates
    from shebao.rural_pension.tests.factories import make_person as make_rural_person

    set_rates()
    account = make_account(flows=HAND_FLOWS)  # 王阿大, born 1962-03-05; the hand-computed flows of test_interest
    refunded = make_account(make_rural_person("退保人", birth=dt.date(1963, 1, 1)), flows=HAND_FLOWS)
    heir = make_rural_person("王小二", birth=dt.date(1988, 4, 2), account="6222020000000077")
    rural_years_recompute()
    clerk = make_user("nbi18n", roles=["clerk", "it_admin"], all_regions=True, sensitive=True,
                      perms=["rural_pension.change_creditedrate"])
    rural_heir_set(account=account, heir=heir, reason="家属代领", user=clerk)
    doc = rural_refund_settle(account=refunded, on=dt.date(2024, 6, 15), pay_method="cash", user=clerk)
    return {"clerk": clerk, "account": account, "refunded": refunded, "doc": doc}


def _rural_pages(rural) -> dict[str, str]:
    pk = rural["account"].pk
    return {
        "nb_list": "/nb/", "nb_account": f"/nb/{pk}/", "nb_years": f"/nb/{pk}/?tab=years",
        "nb_quote": f"/nb/{pk}/refund/quote/?on=2024-06-15&pay=cash", "nb_documents": "/nb/documents/",
        "nb_rates": "/nb/rates/", "nb_coefficients": "/nb/coefficients/", "nb_import": "/nb/import/",
    }


ENGLISH.update({
    "nb_list": ["<h1>Old rural pension accounts", ">Contribution years<", ">Balance (latest year’s closing)<",
                ">Settlement statements</a>", "Contribution years ≥"],
    "nb_account": [">Start of benefit</a>", ">Refund</a>", ">Death settlement</a>", ">Heir / proxy payee</a>",
                   'id="tab-contrib" class="">Contributions</a>', "<h2>Enrollment</h2>",
                   "<dt>Total contributions</dt>", "<dt>Contribution years</dt>",
                   'id="tab-benefit" class="">Benefit</a>'],
    "nb_years": ['aria-current="page">Yearly account table</a>', '<th class="num">Opening balance</th>',
                 '<th class="num">Credited interest rate</th>', '<th class="num">Interest months</th>',
                 "Interest year by year on monthly balances", '<td class="num"><strong>2,640.21</strong></td>',
                 ">Calculate a refund on a date</a>"],
    "nb_quote": ["<h1>Refund calculation: 王阿大", "<h2>Yearly account table (to 2024-06-15)</h2>",
                 "Interest for 5 months in 2024 (to the start of 2024-06)",
                 'Refund amount <span class="figure num" id="refund-amount">3,001.45</span> yuan',
                 "In words <span", "叁仟零壹元肆角伍分", ">Confirm refund</button>", ">Back to edit</a>"],
    "nb_documents": ["<h1>Settlement statements", ">Statement number<", ">Settlement date<", ">Handled at<",
                     "NB2024-"],
    "nb_rates": ["<h1>Credited interest rate", "<h2>Set a year’s credited interest rate</h2>",
                 '<label for="id_rate">Credited interest rate</label>', "A decimal, e.g. 0.0250 for 2.5%",
                 "<h2>Rate table</h2>", '<th class="num">Percent</th>'],
    "nb_coefficients": ["<h1>Benefit coefficient", "<h2>Set a benefit coefficient</h2>",
                        "<h2>Benefit coefficient table</h2>", "<th>To month</th>",
                        "Contribution–benefit table: at the start of benefit"],
    "nb_import": ["<h1>Old rural pension: legacy data import",
                  "<h2>Step 1: dry run (check and reconcile, nothing written)</h2>", ">Dry run</button>",
                  '<label for="id_directory">Server directory</label>', "<h2>Imported batches</h2>"],
})


def test_rural_pension_pages_in_english(rural):
    clerk = _client(rural["clerk"], "en")
    data = data_values()
    for name, url in _rural_pages(rural).items():
        response = clerk.get(url)
        assert response.status_code == 200, (name, url)
        _check_english(response.content.decode(), name, data)


def test_rural_refund_flash_message_in_english(rural):
    from shebao.rural_pension.models import RuralDocument

    clerk = _client(rural["clerk"], "en")
    account = rural["account"]
    page = clerk.post(f"/nb/{account.pk}/refund/settle/", once({"on": "2024-06-15", "pay": "cash", "amount": "3001.45",
                                                                "confirm": "1"}), follow=True).content.decode()
    doc = RuralDocument.objects.get(account=account)
    assert (doc.amount, doc.state) == (D("3001.45"), "settled")
    assert (f"Refunded: 王阿大, settlement statement {doc.number}, 3,001.45 yuan (叁仟零壹元肆角伍分), Cash; "
            "the account is refunded.") in page
    assert ">Print settlement statement</a>" in page


RURAL_CHINESE = {
    "nb_list": ["<h1>老农保账户查询", ">缴费年数<", ">结算单查询</a>"],
    "nb_account": ['">开始领取</a>', '">死亡结算</a>', 'id="tab-contrib" class="">缴费</a>', "<h2>参保信息</h2>"],
    "nb_years": ['<th class="num">期初余额</th>', '<th class="num">记账利率</th>',
                 '<td class="num"><strong>2,640.21</strong></td>'],
    "nb_quote": ['退款金额 <span class="figure num" id="refund-amount">3,001.45</span> 元', ">确认退款</button>",
                 "<h2>个人年账户明细（计算到 2024-06-15）</h2>"],
    "nb_rates": ["<h2>利率表</h2>", '<label for="id_rate">记账利率</label>'],
    "nb_coefficients": ["<h2>计发系数表</h2>"],
    "nb_import": [">试运行</button>", "<h2>第一步：试运行（校验并对账，不写入）</h2>"],
}


def test_rural_pension_pages_in_chinese_are_unchanged(rural):
    clerk = _client(rural["clerk"], "zh-hans")
    pages = _rural_pages(rural)
    for name, texts in RURAL_CHINESE.items():
        html = clerk.get(pages[name]).content.decode()
        assert 'lang="zh-hans"' in html, name
        for text in texts:
            assert text in html, (name, text)


def test_rural_import_dry_run_page_in_english(rural, tmp_path, settings):
    """The job keeps its Chinese title (stored); the page shows it in the viewer's language."""
    import shutil

    from shebao.common.jobs import job_run
    from shebao.common.models import Job
    from shebao.rural_pension import legacy_import
    from shebao.rural_pension.models import RuralAccount

    settings.MEDIA_ROOT = str(tmp_path / "media")
    folder = tmp_path / "legacy"
    shutil.copytree(Path(legacy_import.__file__).parent / "samples", folder)
    accounts = RuralAccount.objects.count()
    clerk = _client(rural["clerk"], "en")
    response = clerk.post("/nb/import/", once({"directory": str(folder)}))
    job = Job.objects.get()
    assert response.status_code == 302 and job.title == "老农保原系统数据导入：试运行（不写入）"
    job_run(job.pk)
    html = clerk.get(response.url).content.decode()
    assert "<h1>Old rural pension legacy import: dry run (nothing written)</h1>" in html
    for text in ["<h2>Reconciliation (per file: read = loaded + refused)</h2>", "<th class=\"num\">Rows loaded</th>",
                 ">read = loaded + refused<", ">Confirm import</button>", "This is the result of the dry run"]:
        assert text in html, text
    assert untranslated(html, data_values()) == []
    chinese = _client(rural["clerk"], "zh-hans").get(response.url).content.decode()
    assert "<h1>老农保原系统数据导入：试运行（不写入）</h1>" in chinese and ">确认导入</button>" in chinese
    assert RuralAccount.objects.count() == accounts  # a dry run writes nothing

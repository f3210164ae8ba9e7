"""The list component: sort, filter, paginate, state in the URL, export with the page's masking."""

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from shebao.registry.models import Person
from shebao.web.tables import ChoiceFilter, Column, DateRangeFilter, Table, TextFilter
from shebao.web.tests.helpers import id_number, make_person, make_user, town
from shebao.web.xlsx import XlsxWriter

pytestmark = pytest.mark.django_db


class PersonTestTable(Table):
    columns = [
        Column("name", "姓名", sortable=True, link=("registry:person_detail", "pk")),
        Column("id_number", "身份证号", kind="id_number", sortable=True),
        Column("sex", None, kind="choice"),  # label and choices from the model
        Column("birth_date", "出生日期", kind="date", sortable=True),
        Column("town__name", "镇街道", sortable=True, sort_field="town__sort"),
        Column("mobile", "手机", kind="phone"),
    ]
    filters = [
        TextFilter("q", "姓名", lookups=["name__contains"]),
        ChoiceFilter("sex", "性别", choices=Person.Sex.choices),
        DateRangeFilter("born", "出生日期", field="birth_date"),
    ]
    default_sort = "name"
    export_name = "测试"


def _request(user, query=""):
    request = RequestFactory().get("/persons/" + (f"?{query}" if query else ""))
    request.user = user
    return request


@pytest.fixture
def people():
    persons = []
    for i in range(45):
        born = dt.date(1940 + i % 20, 1 + i % 12, 1 + i % 27)
        persons.append(make_person(f"测试{i:02d}", number=id_number(born, male=i % 3 != 0),
                                   town_name="浒山街道" if i % 2 else "古塘街道", mobile=f"1381234{i:04d}"))
    return persons


@pytest.fixture
def viewer():
    return make_user("viewer", all_regions=True)


@pytest.fixture
def sensitive_viewer():
    return make_user("sviewer", all_regions=True, sensitive=True)


def names(table):
    return [row.data["name"] for row in table.rows]


def test_default_sort_total_and_pagination(people, viewer):
    table = PersonTestTable(_request(viewer, "per_page=20"), Person.objects.all())
    assert table.total == 45
    assert table.page.paginator.num_pages == 3
    assert names(table)[:3] == ["测试00", "测试01", "测试02"]
    page3 = PersonTestTable(_request(viewer, "per_page=20&page=3"), Person.objects.all())
    assert names(page3) == [f"测试{i}" for i in range(40, 45)]
    # a page past the end shows the last page; garbage shows the first
    assert names(PersonTestTable(_request(viewer, "per_page=20&page=99"), Person.objects.all())) == names(page3)
    assert names(PersonTestTable(_request(viewer, "per_page=20&page=x"), Person.objects.all()))[0] == "测试00"


def test_page_size_default_50_and_only_listed_sizes(people, viewer):
    assert PersonTestTable(_request(viewer), Person.objects.all()).per_page == 50
    assert PersonTestTable(_request(viewer, "per_page=7"), Person.objects.all()).per_page == 50
    assert PersonTestTable(_request(viewer, "per_page=100"), Person.objects.all()).per_page == 100


def test_sort_desc_and_header_links(people, viewer):
    table = PersonTestTable(_request(viewer, "sort=-name"), Person.objects.all())
    assert names(table)[:2] == ["测试44", "测试43"]
    headers = {h.key: h for h in table.headers}
    assert headers["name"].direction == "desc"
    assert headers["name"].url == "?sort=name"  # clicking again turns it around
    assert headers["birth_date"].url == "?sort=birth_date"
    assert not headers["mobile"].sortable and headers["mobile"].url == ""


def test_sort_by_date(people, viewer):
    table = PersonTestTable(_request(viewer, "sort=birth_date&per_page=100"), Person.objects.all())
    dates = [row.data["birth_date"] for row in table.rows]
    assert dates == sorted(dates)


def test_unknown_sort_is_refused_with_a_message(people, viewer):
    table = PersonTestTable(_request(viewer, "sort=mobile"), Person.objects.all())
    assert table.sort_key == "name"
    assert any("mobile" in e for e in table.errors)


def test_filters_combine_and_keep_state_in_urls(people, viewer):
    table = PersonTestTable(_request(viewer, "q=测试1&sex=F&sort=-birth_date&per_page=20"), Person.objects.all())
    expected = sorted((p for p in people if p.name.startswith("测试1") and p.sex == "F"),
                      key=lambda p: p.birth_date, reverse=True)
    assert names(table) == [p.name for p in expected]
    assert table.total == len(expected)
    url = table.page_url(2)
    assert "q=%E6%B5%8B%E8%AF%951" in url and "sex=F" in url and "sort=-birth_date" in url and "page=2" in url
    export = table.export_url
    assert "export=xlsx" in export and "q=" in export and "&page=" not in export
    # changing the sort goes back to page 1
    assert PersonTestTable(_request(viewer, "page=2&per_page=20"), Person.objects.all()).headers[0].url == \
        "?per_page=20&sort=-name"


def test_date_range_filter_and_bad_date(people, viewer):
    table = PersonTestTable(_request(viewer, "born_from=1950-01-01&born_to=1954-12-31&per_page=100"),
                            Person.objects.all())
    assert table.total == sum(1 for p in people if dt.date(1950, 1, 1) <= p.birth_date <= dt.date(1954, 12, 31))
    bad = PersonTestTable(_request(viewer, "born_from=1950-13-01"), Person.objects.all())
    assert bad.errors and "1950-13-01" in bad.errors[0]
    assert bad.total == 45  # the bad bound is not applied, and the user is told


def test_choice_filter_refuses_unknown_value(people, viewer):
    table = PersonTestTable(_request(viewer, "sex=Z"), Person.objects.all())
    assert table.total == 0
    assert any("Z" in e for e in table.errors)


def test_cells_masked_and_formatted(people, viewer, sensitive_viewer):
    p = people[0]
    masked = PersonTestTable(_request(viewer, "q=测试00"), Person.objects.all()).rows[0]
    cells = [str(c.html) for c in masked.cells]
    assert cells[1] == p.id_number[:6] + "********" + p.id_number[-4:]
    assert cells[2] == "女" if p.sex == "F" else "男"
    assert cells[3] == p.birth_date.strftime("%Y-%m-%d")
    assert cells[5] == "138****0000"
    assert f'href="/persons/{p.pk}/"' in cells[0]
    full = PersonTestTable(_request(sensitive_viewer, "q=测试00"), Person.objects.all()).rows[0]
    assert str(full.cells[1].html) == p.id_number and str(full.cells[5].html) == "13812340000"


class LinkTestTable(Table):
    columns = [
        Column("name", "姓名", link=("registry:person_detail", "pk")),  # an int key: reversed once per page
        Column("town__name", "镇街道", link=("bank:bank_edit", "code")),  # a text key: reversed per row
        Column("sex", "性别", link=lambda row: f"/x/?n={row['name']}"),  # the table's own function
    ]
    extra_fields = ["code"]
    default_sort = "name"


def test_links_are_the_urls_reverse_gives(viewer):
    """The page reverses an int-keyed link once and puts each row's id in it: every href is the one
    ``reverse`` gives for that row; text keys are reversed (and quoted) one by one; link texts and URLs
    are escaped."""
    from django.db.models import Value
    from django.urls import reverse

    a = make_person("张三", number=id_number(dt.date(1950, 1, 1)))
    b = make_person("李四", number=id_number(dt.date(1951, 1, 1)))
    Person.objects.filter(pk=a.pk).update(name="张<b>三</b>")  # past the service's check: the page escapes
    qs = Person.objects.annotate(code=Value("A B&c")).order_by("pk")
    rows = {r.data["pk"]: r for r in LinkTestTable(_request(viewer), qs).rows}
    for person in (a, b):
        cells = [str(c.html) for c in rows[person.pk].cells]
        assert cells[0].startswith(f'<a href="{reverse("registry:person_detail", args=[person.pk])}">')
        assert reverse("bank:bank_edit", args=["A B&c"]).replace("&", "&amp;") in cells[1]
        assert cells[2].startswith('<a href="/x/?n=')
    assert str(rows[a.pk].cells[0].html) == f'<a href="/persons/{a.pk}/">张&lt;b&gt;三&lt;/b&gt;</a>'
    assert "&lt;b&gt;" in str(rows[a.pk].cells[2].html) and "<b>" not in str(rows[a.pk].cells[2].html)
    body = str(LinkTestTable(_request(viewer), qs).body_html)
    assert body.count(f'href="/persons/{a.pk}/"') == 1 and body.count(f'href="/persons/{b.pk}/"') == 1


def test_label_from_model_field(viewer):
    table = PersonTestTable(_request(viewer), Person.objects.all())
    assert table.column("sex").label == "性别"
    assert table.column("sex").choices == {"M": "男", "F": "女"}


def _read(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(openpyxl.load_workbook(io.BytesIO(body), read_only=True).active.iter_rows(values_only=True))


def test_export_same_rows_sorted_filtered_and_masked(people, viewer):
    table = PersonTestTable(_request(viewer, "sex=M&sort=-name&per_page=20&page=2"), Person.objects.all())
    response = table.export_response()
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=UTF-8''%E6%B5%8B%E8%AF%95-" in response["Content-Disposition"]
    rows = _read(response)
    assert rows[0] == ("姓名", "身份证号", "性别", "出生日期", "镇街道", "手机")
    males = sorted((p for p in people if p.sex == "M"), key=lambda p: p.name, reverse=True)
    assert len(rows) - 1 == len(males)  # all pages, not only page 2
    assert [r[0] for r in rows[1:]] == [p.name for p in males]
    first = males[0]
    assert rows[1][1] == first.id_number[:6] + "********" + first.id_number[-4:]
    assert rows[1][2] == "男"
    assert rows[1][3] == dt.datetime.combine(first.birth_date, dt.time())  # a real date cell
    assert rows[1][5].startswith("138****")
    flat = repr(rows)
    assert all(p.id_number not in flat for p in people)


def test_export_unmasked_for_sensitive_right(people, sensitive_viewer):
    rows = _read(PersonTestTable(_request(sensitive_viewer, "q=测试00"), Person.objects.all()).export_response())
    assert rows[1][1] == people[0].id_number and rows[1][5] == "13812340000"


def test_export_with_money_and_hooks(viewer):
    from django.db.models import DecimalField, Value

    class MoneyTable(Table):
        columns = [Column("name", "姓名"), Column("amount", "金额", kind="money", sortable=True),
                   Column("town__name", "镇街道")]

        def cell_town__name(self, value, row):
            return f"<{value}>"

        def xlsx_town__name(self, value, row):
            return f"[{value}]"

    make_person("钱一", number=id_number(dt.date(1960, 5, 5)))
    qs = Person.objects.annotate(amount=Value(Decimal("-1234.5"), output_field=DecimalField(max_digits=14, decimal_places=2)))
    table = MoneyTable(_request(viewer), qs)
    cells = table.rows[0].cells
    assert str(cells[1].html) == "-1,234.50" and "neg" in cells[1].css and "num" in cells[1].css
    assert cells[2].html == "<浒山街道>"
    rows = _read(table.export_response())
    assert rows[1] == ("钱一", -1234.5, "[浒山街道]")


def test_render_table_partial_for_htmx(client, people):
    client.force_login(make_user("lister", all_regions=True))
    full = client.get("/persons/?sort=-name")
    assert b'id="persons-filters"' in full.content
    partial = client.get("/persons/?sort=-name", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="persons-results")
    body = partial.content.decode()
    assert 'id="persons-results"' in body and "<html" not in body and 'id="persons-filters"' not in body
    assert body.index("测试44") < body.index("测试43")
    assert "共 45 条" in body


def test_anonymous_masker_masks():
    from shebao.common.masking import masker_for

    assert masker_for(AnonymousUser()).id_number("33028219500101123X") == "330282********123X"


def test_xlsx_writer_types_and_escaping():
    buffer = io.BytesIO()
    with XlsxWriter(buffer, sheet_name="a/b:c", headers=["文本", "数", "日期", "时间", "空"],
                    money_columns={1}) as w:
        w.write_row(["<&>\x01\"'", Decimal("12.30"), dt.date(2024, 2, 29), dt.datetime(2024, 3, 1, 8, 30, 15), None])
        w.write_row([123, 7, "2024-01", "", ""])
    wb = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    ws = wb.active
    assert ws.title == "a_b_c"
    assert [c.value for c in ws[2]] == ["<&>\"'", 12.3, dt.datetime(2024, 2, 29), dt.datetime(2024, 3, 1, 8, 30, 15), None]
    assert ws["B2"].number_format == "#,##0.00" and ws["C2"].number_format == "yyyy-mm-dd"
    assert [c.value for c in ws[3]][:3] == [123, 7, "2024-01"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E3"


def test_town_helper_exists():
    assert town("浒山街道").level == "town"

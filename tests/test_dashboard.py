"""The province dashboard: figures against hand counts, scope, SVG charts against the tables, drill-down
lists against the figures, the .xlsx export, and the page and fragment size budgets."""
import io
import re
from datetime import timedelta

import brotli
import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from kiemdich.clock import utcnow
from kiemdich.dashboard import figures as figs
from kiemdich.extensions import db
from kiemdich.models import AdminUnit, AuditEvent
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, CheckpointFactory, DeclarationFactory, PassageFactory
from tests.factories_supervision import (END, ONE, OTHER, PERIOD, START, TWO, as_dicts, at, bars,
                                         dashboard_dataset, supervisor, svg, tables)

DAYS = [f"{d:02d}/10" for d in range(1, 8)]
Z7, Z10 = ["0"] * 7, ["0"] * 10

# Hand counts for the whole province (see factories_supervision.dashboard_dataset).
# Passages: all, allowed, refused, quarantine, rapid, pooled PCR, single PCR.
PROVINCE_PASSAGES = {
    "01/10": "1 1 0 0 1 0 0", "02/10": "2 1 1 0 0 0 1", "03/10": "1 0 0 1 0 1 0", "04/10": "0 0 0 0 0 0 0",
    "05/10": "1 1 0 0 1 0 0", "06/10": "0 0 0 0 0 0 0", "07/10": "0 0 0 0 0 0 0", "Tổng": "5 3 1 1 2 1 1"}
# Declarations, expected, confirmed, overdue, monitoring, symptoms, referred, completed, unchecked, lost.
PROVINCE_ARRIVALS = {
    "01/10": "1 1 1 0 1 1 0 0 0 0", "02/10": "2 1 0 1 0 0 0 0 0 0", "03/10": "1 1 1 0 0 0 0 1 0 0",
    "04/10": "3 3 3 0 0 1 1 0 1 1", "05/10": "0 0 0 0 0 0 0 0 0 0", "06/10": "0 0 0 0 0 0 0 0 0 0",
    "07/10": "0 0 0 0 0 0 0 0 0 0", "Tổng": "7 6 5 1 1 2 1 1 1 1"}
ONE_PASSAGES = {
    "01/10": "1 1 0 0 1 0 0", "02/10": "1 1 0 0 0 0 0", "03/10": "0 0 0 0 0 0 0", "04/10": "0 0 0 0 0 0 0",
    "05/10": "1 1 0 0 1 0 0", "06/10": "0 0 0 0 0 0 0", "07/10": "0 0 0 0 0 0 0", "Tổng": "3 3 0 0 2 0 0"}
ONE_ARRIVALS = {
    "01/10": "1 1 1 0 1 1 0 0 0 0", "02/10": "1 1 0 1 0 0 0 0 0 0", "03/10": "0 0 0 0 0 0 0 0 0 0",
    "04/10": "2 2 2 0 0 0 0 0 1 1", "05/10": "0 0 0 0 0 0 0 0 0 0", "06/10": "0 0 0 0 0 0 0 0 0 0",
    "07/10": "0 0 0 0 0 0 0 0 0 0", "Tổng": "4 4 3 1 1 1 0 0 1 1"}


def split(expected: dict) -> dict:
    return {k: v.split() for k, v in expected.items()}


def name(code: str) -> str:
    return db.session.get(AdminUnit, code).name


@pytest.fixture
def data(app, users):
    return dashboard_dataset()


def dashboard(client, **params):
    response = client.get("/tinh", query_string=PERIOD | params)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_province_figures_equal_hand_counts(client, auth, data):
    auth.login("super1")
    found, _links = tables(dashboard(client))
    assert as_dicts(found["t-day-passages"]) == split(PROVINCE_PASSAGES)
    assert as_dicts(found["t-day-arrivals"]) == split(PROVINCE_ARRIVALS)
    assert as_dicts(found["t-checkpoints"]) == {"Chốt A": "3 3 0 0 2 0 0".split(), "Chốt B": "2 0 1 1 0 1 1".split()}
    assert as_dicts(found["t-communes"]) == {
        name(ONE): "4 4 3 1 1 1 0 0 1 1".split(), name(TWO): "2 1 1 0 0 1 1 0 0 0".split(),
        name(OTHER): "1 1 1 0 0 0 0 1 0 0".split()}


def test_a_supervisor_of_one_commune_sees_only_it(client, auth, data):
    supervisor("sup_one", ONE)
    auth.login("sup_one")
    html = dashboard(client)
    found, links = tables(html)
    assert as_dicts(found["t-day-passages"]) == split(ONE_PASSAGES)
    assert as_dicts(found["t-day-arrivals"]) == split(ONE_ARRIVALS)
    assert list(as_dicts(found["t-checkpoints"])) == ["Chốt A"]
    assert list(as_dicts(found["t-communes"])) == [name(ONE)]
    assert "Chốt B" not in html and name(TWO) not in html
    # Lists outside the scope are not found, whatever the URL says.
    cp_b = data["cp_b"].code
    assert client.get("/tinh/ds", query_string=PERIOD | {"f": "p_all", "cp": cp_b}).status_code == 404
    assert client.get("/tinh/ds", query_string=PERIOD | {"f": "a_exp", "commune": TWO}).status_code == 404
    assert client.get("/tinh", query_string=PERIOD | {"area": TWO}).status_code == 422


def test_a_cluster_supervisor_can_narrow_to_one_of_its_communes(client, auth, data):
    supervisor("cluster", ONE, TWO)
    auth.login("cluster")
    found, _links = tables(dashboard(client))
    assert found["t-day-arrivals"][-1][1:] == "6 5 4 1 1 2 1 0 1 1".split()  # ONE and TWO together
    found, _links = tables(dashboard(client, area=TWO))
    assert as_dicts(found["t-communes"]) == {name(TWO): "2 1 1 0 0 1 1 0 0 0".split()}
    assert as_dicts(found["t-checkpoints"]) == {"Không có số liệu trong thời gian này.": []}  # no checkpoint there
    assert found["t-day-arrivals"][-1][1:] == "2 1 1 0 0 1 1 0 0 0".split()


def test_charts_are_svg_with_one_bar_per_day_matching_the_table(client, auth, data):
    auth.login("super1")
    html = dashboard(client)
    found, _links = tables(html)
    passages = svg(html, "chart-passages")
    assert passages.tag == "{http://www.w3.org/2000/svg}svg"
    drawn = bars(passages)
    assert list(drawn) == [(START + timedelta(days=i)).isoformat() for i in range(7)]
    table = as_dicts(found["t-day-passages"])
    for (day, bar), label in zip(drawn.items(), DAYS):
        allow, refuse, quarantine = (int(n) for n in table[label][1:4])
        assert bar["total"] == int(table[label][0]) == allow + refuse + quarantine
        assert (bar.get("p_allow", 0), bar.get("p_refuse", 0), bar.get("p_quar", 0)) == (allow, refuse, quarantine)
    arrivals = bars(svg(html, "chart-arrivals"))
    table = as_dicts(found["t-day-arrivals"])
    assert len(arrivals) == 7
    for (day, bar), label in zip(arrivals.items(), DAYS):
        assert bar["total"] == int(table[label][1])  # expected
        assert bar.get("a_conf", 0) == int(table[label][2])  # confirmed


def test_a_long_period_still_has_one_bar_per_day(client, auth, data):
    auth.login("super1")
    html = dashboard(client, start="2021-09-01", end="2021-11-30")
    assert len(bars(svg(html, "chart-passages"))) == 91
    assert client.get("/tinh", query_string={"start": "2021-01-01", "end": "2021-12-31"}).status_code == 422


def drill_total(client, href: str) -> tuple[int, int, str]:
    response = client.get(href.replace("&amp;", "&"))
    assert response.status_code == 200, href
    html = response.get_data(as_text=True)
    total = int(re.search(r"<h1>[^<]*: (\d+)</h1>", html).group(1))
    items = len(re.findall(r'<li(?: class="flagged")?><strong>', html))
    return total, items, html


def test_every_figure_drills_down_to_its_list(client, auth, data):
    auth.login("super1")
    found, links = tables(dashboard(client))
    checked = 0
    for table_id in ("t-day-passages", "t-day-arrivals", "t-checkpoints", "t-communes"):
        numbers = [cell for row in found[table_id][1:] for cell in row[1:] if cell.isdigit() and cell != "0"]
        assert len(numbers) == len(links[table_id]), table_id  # every non-zero figure is a link
        for number, href in zip(numbers, links[table_id]):
            total, items, _html = drill_total(client, href)
            assert total == items == int(number), href
            checked += 1
    assert checked > 40


def test_drill_down_lists_the_right_people(client, auth, data):
    auth.login("super1")
    _total, _items, html = drill_total(client, f"/tinh/ds?start={START}&end={END}&f=a_late")
    assert "Người Hai" in html and "Người Một" not in html
    _total, _items, html = drill_total(client, f"/tinh/ds?start={START}&end={END}&f=p_all&day=2021-10-02")
    assert "Người Hai" in html and "Người Ba" in html and "Người Một" not in html
    assert "075190000002" not in html and "••••••••0002" in html  # masked, with a reveal button


def test_drill_down_pages_are_small_fragments(client, auth, users):
    checkpoint = CheckpointFactory(commune_code=ONE)
    for i in range(60):
        d = DeclarationFactory(full_name=f"Nguyễn Thị Thanh Hương {i}", created_at=at(3, 8))
        PassageFactory(declaration=d, checkpoint=checkpoint, server_ts=at(3, 9, i % 60))
    db.session.commit()
    auth.login("super1")
    first = client.get("/tinh/ds", query_string=PERIOD | {"f": "p_all"}).get_data(as_text=True)
    assert len(re.findall(r"<li><strong>", first)) == 25 and "page=2" in first
    fragment = client.get("/tinh/ds", query_string=PERIOD | {"f": "p_all", "page": 2},
                          headers={"HX-Request": "true", "Accept-Encoding": "br"})
    assert "<html" not in brotli.decompress(fragment.data).decode()
    assert len(fragment.data) <= 5 * 1024
    body = brotli.decompress(fragment.data).decode()
    assert len(re.findall(r"<li><strong>", body)) == 25 and "page=3" in body


def _wire_size(client, html: str, body: bytes) -> int:
    """The page plus its stylesheets and scripts, compressed as the browser receives them."""
    total = len(body)
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js)(?:\?v=\w+)?)"', html):
        response = client.get(asset, headers={"Accept-Encoding": "br"})
        data = b"".join(response.response) if response.is_streamed else response.data
        encoded = response.headers.get("Content-Encoding") in ("br", "gzip")
        total += len(data) if encoded else len(brotli.compress(data))
    return total


def test_first_load_is_within_60_kb_even_for_a_whole_province_over_three_months(client, auth, users):
    communes = db.session.scalars(select(AdminUnit.code).where(AdminUnit.parent_code == "75")).all()
    checkpoints = [CheckpointFactory(commune_code=c, name=f"Chốt kiểm soát dịch số {i}") for i, c in enumerate(communes[:12])]
    start = utcnow() - timedelta(days=91)
    for i, code in enumerate(communes):
        d = DeclarationFactory(dest_commune_code=code, created_at=start + timedelta(days=i % 92))
        p = PassageFactory(declaration=d, checkpoint=checkpoints[i % 12], server_ts=d.created_at, test_taken="rapid")
        ArrivalFactory(declaration=d, passage=p, commune_code=code, expected_at=d.created_at, status="monitoring",
                       arrived_at=d.created_at, flagged=i % 3 == 0)
    db.session.commit()
    auth.login("super1")
    end = (utcnow() + timedelta(hours=7)).date()
    response = client.get("/tinh", query_string={"start": (end - timedelta(days=91)).isoformat(),
                                                 "end": end.isoformat()}, headers={"Accept-Encoding": "br"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
    html = brotli.decompress(response.data).decode()
    found, _links = tables(html)
    assert len(found["t-communes"]) == len(communes) + 1 and len(found["t-day-passages"]) == 92 + 2
    assert _wire_size(client, html, response.data) <= 60 * 1024


def test_export_has_the_same_figures_and_is_audited(client, auth, data):
    auth.login("super1")
    token = csrf_token(client, "/tinh?" + "&".join(f"{k}={v}" for k, v in PERIOD.items()))
    response = client.post("/tinh/xuat", data=PERIOD | {"csrf_token": token})
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "so-lieu_20211001-20211007.xlsx" in response.headers["Content-Disposition"]
    rows = CalamineWorkbook.from_filelike(io.BytesIO(response.data)).get_sheet_by_index(0).to_python()
    header = next(i for i, row in enumerate(rows) if row and row[0] == "Ngày")
    keys = [f.key for f in figs.FIGURES]
    assert rows[header][1:] == [str(f.label) for f in figs.FIGURES]
    by_day = {row[0]: [int(v) for v in row[1:len(keys) + 1]] for row in rows[header + 1:header + 9]}
    index = {k: i for i, k in enumerate(keys)}
    passages = split(PROVINCE_PASSAGES)
    arrivals = split(PROVINCE_ARRIVALS)
    for label in DAYS:
        day = f"{label}/2021"
        assert [by_day[day][index[k]] for k in figs.PASSAGE_KEYS] == [int(v) for v in passages[label]]
        assert [by_day[day][index[k]] for k in figs.ARRIVAL_KEYS] == [int(v) for v in arrivals[label]]
    assert [by_day["Tổng"][index[k]] for k in figs.ARRIVAL_KEYS] == [int(v) for v in arrivals["Tổng"]]
    flat = [row[0] for row in rows if row]
    assert "Chốt A" in flat and "Chốt B" in flat and name(TWO) in flat
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export.dashboard")).all()
    assert len(events) == 1 and events[0].username == "super1" and events[0].after["format"] == "xlsx"


def test_only_supervisors_see_the_dashboard(client, auth, users):
    for username in ("admin1", "chot1", "xa1"):
        auth.login(username)
        assert client.get("/tinh").status_code == 403
        assert client.get("/tinh/ds", query_string={"f": "a_exp"}).status_code == 403
        auth.logout()


def test_bad_periods_say_so_in_vietnamese_and_show_the_default(client, auth, data):
    auth.login("super1")
    response = client.get("/tinh", query_string={"start": "2021-10-07", "end": "2021-10-01"})
    assert response.status_code == 422
    assert "Ngày kết thúc trước ngày bắt đầu" in response.get_data(as_text=True)
    response = client.get("/tinh", query_string={"start": "hôm qua"})
    assert response.status_code == 422


def test_figures_are_counted_in_sql(app, data):
    """compute() issues a fixed number of queries, whatever the number of rows (no loop over rows)."""
    from sqlalchemy import event

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        scope = figs.Scope(frozenset({ONE, TWO, OTHER, "75"}), START, END, utcnow())
        result = figs.compute(scope)
        first = len(statements)
        for i in range(30):
            ArrivalFactory(commune_code=ONE, expected_at=at(2, 10), status="monitoring")
        db.session.commit()
        statements.clear()
        again = figs.compute(scope)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) == first <= 5
    assert again.totals["a_exp"] == result.totals["a_exp"] + 30
    assert sum(1 for s in statements if "GROUP BY" in s) == 3

"""A small hand-counted dataset for the dashboard, and helpers that read tables and SVG out of HTML."""
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone
from html.parser import HTMLParser

from kiemdich.clock import LOCAL
from kiemdich.extensions import db
from tests.factories import (ArrivalFactory, CheckpointFactory, DeclarationFactory, PassageFactory, UserFactory)

START, END = date(2021, 10, 1), date(2021, 10, 7)
PERIOD = {"start": START.isoformat(), "end": END.isoformat()}
ONE, TWO = "25210", "25417"  # Phường Đồng Xoài, Xã Nghĩa Trung
OTHER = "25432"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in October 2021, given in local time, stored in UTC."""
    return datetime(2021, 10, day, hour, minute, tzinfo=LOCAL).astimezone(timezone.utc)


def dashboard_dataset() -> dict:
    """Declarations, passages and arrivals whose figures are counted by hand in the tests.

    Checkpoint A stands in ONE, checkpoint B in OTHER. A declaration sent at 00:30 local on 2 October
    (17:30 UTC on 1 October) counts on 2 October.
    """
    cp_a = CheckpointFactory(commune_code=ONE, name="Chốt A")
    cp_b = CheckpointFactory(commune_code=OTHER, name="Chốt B")

    def decl(name, when, dest, number):
        return DeclarationFactory(full_name=name, created_at=when, dest_commune_code=dest, id_number=number)

    d1 = decl("Người Một", at(1, 8), ONE, "075190000001")
    d2 = decl("Người Hai", at(2, 0, 30), ONE, "075190000002")
    d3 = decl("Người Ba", at(2, 10), TWO, "075190000003")
    d4 = decl("Người Bốn", at(3, 23, 30), OTHER, "075190000004")
    d5 = decl("Người Năm", at(5, 9), "26506", "075190000005")  # going to Hồ Chí Minh City: transit
    d6 = decl("Người Sáu", at(4, 7), TWO, "075190000006")
    d7 = decl("Người Bảy", at(4, 8), ONE, "075190000007")
    d8 = decl("Người Tám", at(4, 9), ONE, "075190000008")
    d9 = decl("Người Chín", at(20, 9), ONE, "075190000009")  # after the period

    p1 = PassageFactory(declaration=d1, checkpoint=cp_a, server_ts=at(1, 9), decision="allow", test_taken="rapid")
    p2 = PassageFactory(declaration=d2, checkpoint=cp_a, server_ts=at(2, 0, 45), decision="allow")
    PassageFactory(declaration=d3, checkpoint=cp_b, server_ts=at(2, 11), decision="refuse", test_taken="pcr_single")
    p4 = PassageFactory(declaration=d4, checkpoint=cp_b, server_ts=at(3, 23, 45), decision="quarantine",
                        test_taken="pcr_pooled")
    PassageFactory(declaration=d5, checkpoint=cp_a, server_ts=at(5, 10), decision="allow", test_taken="rapid",
                   transit=True)
    PassageFactory(declaration=d5, checkpoint=cp_a, server_ts=at(5, 9, 50), decision=None, kind="self_checkin")

    ArrivalFactory(declaration=d1, passage=p1, commune_code=ONE, expected_at=at(1, 9), status="monitoring",
                   arrived_at=at(1, 12), flagged=True)
    ArrivalFactory(declaration=d2, passage=p2, commune_code=ONE, expected_at=at(2, 0, 45), status="expected")
    ArrivalFactory(declaration=d4, passage=p4, commune_code=OTHER, expected_at=at(3, 23, 45), status="completed",
                   arrived_at=at(4, 8), ended_at=at(10, 8))
    ArrivalFactory(declaration=d6, commune_code=TWO, expected_at=at(4, 7), status="referred", arrived_at=at(4, 9),
                   flagged=True, ended_at=at(6, 9))
    ArrivalFactory(declaration=d7, commune_code=ONE, expected_at=at(4, 8), status="lost_contact", arrived_at=at(4, 10),
                   ended_at=at(8, 10))
    ArrivalFactory(declaration=d8, commune_code=ONE, expected_at=at(4, 9), status="ended_unchecked",
                   arrived_at=at(4, 11))
    ArrivalFactory(declaration=d9, commune_code=ONE, expected_at=at(20, 9), status="expected")
    db.session.commit()
    return {"cp_a": cp_a, "cp_b": cp_b, "declarations": [d1, d2, d3, d4, d5, d6, d7, d8, d9]}


def supervisor(username: str, *areas: str):
    user = UserFactory(username=username, role="supervisor", area_codes=list(areas))
    db.session.commit()
    return user


class _Tables(HTMLParser):
    """Every <table id=...> as rows of cell texts, and every <a href> inside a cell."""

    def __init__(self):
        super().__init__()
        self.tables, self.links = {}, {}
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
            self.links[attrs["id"]] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._cell is not None and self._table is not None:
            self.links[next(reversed(self.links))].append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> tuple[dict, dict]:
    """({table id: [[cell text]]}, {table id: [hrefs]})."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables, parser.links


def as_dicts(rows: list[list[str]]) -> dict[str, list[str]]:
    """A figures table as {row label: [numbers as text]} (header row dropped)."""
    return {row[0]: row[1:] for row in rows[1:]}


def svg(html: str, chart_id: str) -> ET.Element:
    """The chart's <svg> element, parsed as XML (fails if it is not well-formed)."""
    match = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.S)
    assert match, f"no chart {chart_id}"
    return ET.fromstring(match.group(0))


SVG = "{http://www.w3.org/2000/svg}"


def bars(chart: ET.Element) -> dict[str, dict]:
    """{YYYY-MM-DD: {"total": n, series key: n}} from the chart's bars."""
    result = {}
    for g in chart.iter(f"{SVG}g"):
        if g.get("class") == "bar":
            values = {r.get("data-series"): int(r.get("data-value")) for r in g.iter(f"{SVG}rect")}
            result[g.get("data-day")] = {"total": int(g.get("data-total"))} | values
    return result

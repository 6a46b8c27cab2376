"""The hot requests find their rows through indexes on PostgreSQL, however large the tables grow.

Each statement a request really sends is explained with sequential scans discouraged
(enable_seqscan = off): a table that then still shows a Seq Scan has no index the query can use,
and on a province's million arrivals that statement would read every row. The status answer did
(`declaration_id = x OR id IN (...)`), 70 ms at 300,000 arrivals on the most frequent request.
"""
import re
import uuid

import pytest
from kiemdich import persons
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.scan import operations as ops
from tests.conftest import csrf_token
from tests.factories import AreaLevelFactory, DeclarationFactory
from tests.test_declarations import valid_form
from tests.test_statement_budgets import HX, _arrivals, _passage, _staff, counting

# The tables that grow with the epidemic; reference tables (units, rules, checkpoints) stay small.
GROWING = ("arrival", "arrival_trip", "arrival_event", "declaration", "passage", "person", "health_check",
           "audit_event", "import_row", "user_session")


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (its planner and its indexes)")


def _unindexed(node: dict, walks: bool) -> list[str]:
    """The growing tables a plan reads whole: a Seq Scan, or (walks) an index walked from end to end
    (no Index Cond, only a Filter)."""
    found = []
    table = node.get("Relation Name")
    if table in GROWING and (node["Node Type"] == "Seq Scan" or walks and "Index Cond" not in node
                             and node["Node Type"] in ("Index Scan", "Index Only Scan")):
        found.append(f"{node['Node Type']} on {table}")
    for child in node.get("Plans", []):
        found += _unindexed(child, walks)
    return found


def _scans(found, walks: bool = True) -> list[str]:
    """The growing tables each SELECT of `found` would read whole. A request that looks rows up by
    key must not walk an index either; a list sorted by an indexed column may, on a tiny table (with
    real statistics it takes its condition's index: bench/commune_home_rps.py, 1M arrivals)."""
    raw = db.session.connection().connection.driver_connection
    scans = []
    with raw.cursor() as cur:
        cur.execute("SET enable_seqscan = off")
        try:
            for statement, parameters in found.with_parameters:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                flat = " ".join(statement.split())
                scans += [f"{scan}: ...{flat[flat.find(' FROM '):][:1500]}" for scan in _unindexed(cur.fetchone()[0][0]["Plan"], walks)]
        finally:
            cur.execute("RESET enable_seqscan")
    return scans


def test_the_status_answer_reads_the_arrivals_by_index(app, client, users):
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory()
    persons.link(decl)
    db.session.commit()
    checkpoint = users["checkpoint"].checkpoints[0].checkpoint
    ops.record_passage(user=users["checkpoint"], checkpoint=checkpoint, decl=decl,
                       values=ops.PassageInput(decision="allow"), client_uuid=None)
    db.session.commit()
    token = declarations.token_for(decl)
    with counting() as found:
        response = client.post("/q/trang-thai", data={"token": token}, headers=HX)
    assert response.status_code == 200 and decl.code in response.get_data(as_text=True)
    assert any("FROM arrival" in s for s, _p in found.with_parameters)
    scans = _scans(found)
    assert scans == [], "\n".join(scans)


def test_the_passage_write_and_its_replay_read_by_index(app, client, auth, users):
    checkpoint, csrf = _staff(client, auth, users)
    decl = DeclarationFactory()
    persons.link(decl)
    db.session.commit()
    token, key = declarations.token_for(decl), str(uuid.uuid4())
    for answer in ("created", "replay"):
        with counting() as found:
            response = _passage(client, checkpoint, csrf, token, key)
        assert response.headers["X-Outbox-Status"] == answer
        assert _scans(found) == [], answer


def test_the_commune_home_and_its_lists_read_by_index(app, client, auth, users):
    _arrivals()
    auth.login("xa1")
    for url in ("/xa", "/xa/ds/monitoring/dong?q=", "/xa/ds/due/dong?q=", "/xa/ds/expected/dong?q="):
        with counting() as found:
            response = client.get(url, headers=HX)
        assert response.status_code == 200
        scans = _scans(found, walks=False)
        assert scans == [], "\n".join([url, *scans])


def test_the_travellers_other_requests_read_by_index(app, client, users):
    """A new declaration (persons found by ID number, phone), the lookup by code and birth year,
    and the self check-in at a checkpoint."""
    checkpoint = users["checkpoint"].checkpoints[0].checkpoint.code
    token = csrf_token(client, "/khai-bao")
    with counting() as found:
        response = client.post("/khai-bao", data=valid_form(csrf_token=token), headers=HX)
    assert response.status_code == 200
    scans = _scans(found)
    assert scans == [], "\n".join(scans)
    decl = DeclarationFactory(birth_year=1985)
    persons.link(decl)
    db.session.commit()
    code, name, token = decl.code, decl.full_name, declarations.token_for(decl)
    with counting() as found:
        response = client.post("/tra-cuu", data={"csrf_token": csrf_token(client, "/tra-cuu"), "code": code,
                                                 "birth_year": "1985"}, headers=HX)
    assert response.status_code == 200 and name in response.get_data(as_text=True)
    scans = _scans(found)
    assert scans == [], "\n".join(scans)
    page_token = csrf_token(client, f"/c/{checkpoint}")
    with counting() as found:
        response = client.post(f"/c/{checkpoint}/co-mat", headers=HX,
                               data={"token": token, "client_uuid": str(uuid.uuid4()),
                                     "csrf_token": page_token})
    assert response.status_code == 200
    scans = _scans(found)
    assert scans == [], "\n".join(scans)


def test_the_officers_person_page_and_daily_check_read_by_index(app, client, auth, users):
    arrival = _arrivals(3)[0]
    code = arrival.declaration.code
    auth.login("xa1")
    token = csrf_token(client, "/xa")
    with counting() as found:
        response = client.get(f"/xa/nguoi-den/{code}", headers=HX)
    assert response.status_code == 200
    scans = _scans(found)
    assert scans == [], "\n".join(scans)
    with counting() as found:
        response = client.post(f"/xa/nguoi-den/{code}/kiem-tra", headers=HX,
                               data=dict(client_uuid=str(uuid.uuid4()), source="phone", temperature="36,9",
                                         spo2="98", present="1", csrf_token=token))
    assert response.status_code == 200
    scans = _scans(found)
    assert scans == [], "\n".join(scans)


def test_the_scan_screens_waiting_check_ins_and_todays_list_read_by_index(app, client, auth, users):
    """Loaded after every passage the scan screen sends, and every minute: is each check-in
    answered? (a staff passage confirming it; passage.confirms_id had no index)."""
    checkpoint, csrf = _staff(client, auth, users)
    decl = DeclarationFactory()
    persons.link(decl)
    db.session.commit()
    response = _passage(client, checkpoint, csrf, declarations.token_for(decl), str(uuid.uuid4()))
    assert response.status_code == 201
    for url in (f"/chot/tu-bao?chot={checkpoint}", f"/chot/hom-nay?chot={checkpoint}"):
        with counting() as found:
            response = client.get(url, headers=HX)
        assert response.status_code == 200
        scans = _scans(found)
        assert scans == [], "\n".join([url, *scans])

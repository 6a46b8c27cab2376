"""Statement budgets of the hot requests: how many SQL statements each one sends, on both backends.

Most of a hot request's time is spent waiting on database round trips, so each gets a budget (issue
14). A change that adds a query, or a lazy load the ORM would make, fails here; the speed itself is
measured by the scripts in bench/, never by timed assertions.
"""
import os
import re
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from kiemdich import clock, persons
from kiemdich.declarations import operations as declarations
from kiemdich.extensions import db
from kiemdich.models import HealthCheck, Passage
from kiemdich.scan import operations as ops
from tests.conftest import csrf_token
from tests.factories import ArrivalFactory, AreaLevelFactory, DeclarationFactory
from tests.test_declarations import valid_form

HX = {"HX-Request": "true"}


class Statements:
    """The SQL statements sent while counting (savepoints included: each is a round trip)."""

    def __init__(self):
        self.sent: list[str] = []
        self.with_parameters: list[tuple] = []  # as sent, for EXPLAIN (tests/test_query_plans.py)

    def __len__(self):
        return len(self.sent)

    def __str__(self):
        return "\n".join(f"  {i + 1}. {s[:160]}" for i, s in enumerate(self.sent))


@contextmanager
def counting():
    found = Statements()

    def before(conn, cursor, statement, parameters, context, executemany):
        found.sent.append(" ".join(statement.split()))
        found.with_parameters.append((statement, parameters))

    # Each request of a server starts with an empty session; the tests' own session would
    # otherwise answer some loads from its identity map and hide their round trips.
    db.session.remove()
    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)


def within(found: Statements, budget: int, what: str):
    if os.environ.get("KIEMDICH_SHOW_STATEMENTS"):  # the figures for an issue note
        print(f"\n{db.engine.dialect.name} {what}: {len(found)} statements\n{found}")
    assert len(found) <= budget, f"{what}: {len(found)} SQL statements, budget {budget}:\n{found}"


def _staff(client, auth, users):
    auth.login("chot1")
    html = client.get("/chot/quet").get_data(as_text=True)
    return users["checkpoint"].checkpoints[0].checkpoint.code, re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def _passage(client, checkpoint, csrf, token, key):
    return client.post("/chot/qua-chot", data={"chot": checkpoint, "token": token, "decision": "allow",
                                               "test_taken": "none"},
                       headers={"X-CSRFToken": csrf, "HX-Request": "true", "Idempotency-Key": key})


def test_new_passage_and_its_replay(app, client, auth, users):
    checkpoint, csrf = _staff(client, auth, users)
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory()
    persons.link(decl)  # as every declaration made by the form, khai hộ or an import is
    db.session.commit()
    token = declarations.token_for(decl)
    key = str(uuid.uuid4())
    with counting() as new:
        response = _passage(client, checkpoint, csrf, token, key)
    assert response.status_code == 201 and response.headers["X-Outbox-Status"] == "created"
    within(new, 8, "new passage")
    with counting() as replay:
        response = _passage(client, checkpoint, csrf, token, key)
    assert response.status_code == 200 and response.headers["X-Outbox-Status"] == "replay"
    within(replay, 4, "replay")
    # a second device deciding the same trip gets the first decision back, within the new budget
    with counting() as already:
        response = _passage(client, checkpoint, csrf, token, str(uuid.uuid4()))
    assert response.headers["X-Outbox-Status"] == "already"
    within(already, 8, "already decided")
    assert db.session.query(Passage).count() == 1


@pytest.mark.parametrize("passed", [False, True])
def test_status_answer(app, client, users, passed):
    AreaLevelFactory(area_code="79", level=4)
    decl = DeclarationFactory()
    db.session.commit()
    token, code = declarations.token_for(decl), decl.code
    checkpoint_name = users["checkpoint"].checkpoints[0].checkpoint.name
    if passed:  # let through at the checkpoint: the answer shows the passage and the expected arrival
        ops.record_passage(user=users["checkpoint"], checkpoint=users["checkpoint"].checkpoints[0].checkpoint,
                           decl=decl, values=ops.PassageInput(decision="allow"), client_uuid=None)
        db.session.commit()
    client.post("/q/trang-thai", data={"token": token}, headers=HX)  # the QR is drawn once per token
    with counting() as found:
        response = client.post("/q/trang-thai", data={"token": token}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and code in html
    assert (checkpoint_name in html) == passed  # the checkpoint's name, once passed
    within(found, 4, "status answer" + (" after a passage" if passed else ""))


def test_declaration_post(app, client):
    token = csrf_token(client, "/khai-bao")
    with counting() as found:
        response = client.post("/khai-bao", data=valid_form(csrf_token=token), headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    within(found, 8, "declaration POST")


def _arrivals(n=20):
    today = clock.today()
    made = []
    for i in range(n):
        made.append(ArrivalFactory(status="monitoring", commune_code="25210", plan_start=today - timedelta(days=i % 5),
                                   plan_end=today + timedelta(days=6), test_days=[1, 3],
                                   expected_at=clock.utcnow() - timedelta(hours=2),
                                   declaration__dest_commune_code="25210"))
    db.session.commit()
    return made


def test_commune_home_and_list_fragment(app, client, auth, users):
    _arrivals()
    auth.login("xa1")
    client.get("/xa")
    with counting() as home:
        response = client.get("/xa")
    assert response.status_code == 200
    within(home, 8, "commune home")
    with counting() as fragment:
        response = client.get("/xa/ds/monitoring/dong?q=", headers=HX)
    assert response.status_code == 200 and response.get_data(as_text=True).count("/xa/nguoi-den/") >= 15
    within(fragment, 4, "list fragment")


def test_daily_check_post(app, client, auth, users):
    arrival = _arrivals(1)[0]
    auth.login("xa1")
    token = csrf_token(client, "/xa")
    url = f"/xa/nguoi-den/{arrival.declaration.code}/kiem-tra"
    db.session.commit()
    form = dict(client_uuid=str(uuid.uuid4()), source="phone", temperature="36,9", spo2="98", present="1",
                note="ổn", csrf_token=token)
    with counting() as found:
        response = client.post(url, data=form, headers=HX)
    assert response.status_code == 200
    within(found, 8, "daily check POST")
    assert db.session.query(HealthCheck).count() == 1


def test_declaration_form_reads_the_place_lists_once_per_process(app, client):
    client.get("/khai-bao")
    with counting() as found:
        response = client.get("/khai-bao")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<option value="75" selected>Đồng Nai</option>' in html  # the destination province, preselected
    assert '<option value="25210">Phường Đồng Xoài</option>' in html  # and its communes listed
    assert html.count('<option value="79"') == 3  # each of the three pickers lists the provinces
    assert not [s for s in found.sent if "admin_unit" in s], str(found)
    within(found, 2, "declaration form GET")


def test_postgresql_connections_run_without_jit(app):
    """JIT compilation cost ~50 ms on the commune counts of a 1M-arrival database (bench EXPLAIN)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    assert db.session.execute(text("SHOW jit")).scalar() == "off"

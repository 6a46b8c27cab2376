"""Public limits that fit a checkpoint on a carrier network: a crowd of phones behind one (CGNAT)
address is served, one abusive client behind it is still stopped.

Each phone is its own test client (its own cookies), all sending from one address. The requests
go as fast as the test client allows: the crowd's hour is compressed into seconds, which is
harder on the limits than the real hour, not easier.
"""
import re

import pytest
from sqlalchemy import func, select

from kiemdich.extensions import db
from kiemdich.limits import DEVICE_COOKIE
from kiemdich.models import Declaration
from tests.conftest import CSRF_RE
from tests.test_declarations import HX, inputs, valid_form

CGNAT = {"REMOTE_ADDR": "100.64.12.34"}  # RFC 6598 shared address space, as carriers use it


def _open_form(phone):
    fields = inputs(phone.get("/khai-bao", environ_base=CGNAT).get_data(as_text=True))
    return fields["csrf_token"]["value"], fields["nonce"]["value"]


def _declare(phone, number: int, token: str, nonce: str) -> int:
    data = valid_form(nonce=nonce, id_number=f"0791{number:08d}", csrf_token=token)
    return phone.post("/khai-bao", data=data, headers=HX, environ_base=CGNAT).status_code


def _declarations() -> int:
    return db.session.scalar(select(func.count()).select_from(Declaration))


def test_300_phones_behind_one_address_all_declare(app):
    statuses, devices = [], set()
    for number in range(300):
        phone = app.test_client()  # a phone that scanned the poster: opens the form, then sends it
        token, nonce = _open_form(phone)
        statuses.append(_declare(phone, number, token, nonce))
        devices.add(phone.get_cookie(DEVICE_COOKIE).value)
    assert statuses == [200] * 300
    assert len(devices) == 300 and _declarations() == 300


def test_one_client_sending_300_declarations_is_limited(app, client):
    token, _nonce = _open_form(client)  # a script: opens the form once, then sends 300 people
    statuses = [_declare(client, number, token, f"{number:016x}") for number in range(300)]
    allowed = statuses.count(200)
    assert statuses[:allowed] == [200] * allowed and statuses[allowed:] == [429] * (300 - allowed)
    assert allowed == 10  # KIEMDICH_DECLARATION_RATE: 10 per minute per device
    assert _declarations() == 10


def test_a_client_that_drops_its_cookie_meets_the_address_ceiling(app):
    """Throwing the device cookie away (or inventing one-time keys) makes a new device each time;
    the per-address ceiling still stops it."""
    app.config["KIEMDICH_DECLARATION_ADDRESS_RATE"] = "40 per hour"
    statuses = []
    for number in range(60):
        phone = app.test_client()
        token, nonce = _open_form(phone)
        statuses.append(_declare(phone, number, token, nonce))
    assert statuses == [200] * 40 + [429] * 20


def test_a_forged_device_cookie_counts_as_none(app, client):
    """The cookie is signed: inventing values does not make new devices; without a valid cookie the
    form's one-time key stands in, and reusing one key is one device."""
    token, nonce = _open_form(client)
    statuses = []
    for number in range(12):
        client.set_cookie(DEVICE_COOKIE, f"forged{number:016d}.0123456789abcdef")
        statuses.append(_declare(client, number, token, nonce))
    # The first creates the declaration, then the same key with other ID numbers is a stale form
    # (422), until the device's 10 per minute are spent.
    assert statuses[0] == 200 and statuses[10:] == [429, 429]


@pytest.mark.parametrize("path", ["/tra-cuu", "/q/trang-thai"])
def test_a_crowd_looks_up_and_checks_its_status_behind_one_address(app, client, path):
    def ask(phone):
        html = phone.get("/tra-cuu", environ_base=CGNAT).get_data(as_text=True)
        match = CSRF_RE.search(html)
        token = match.group(1) or match.group(2)
        data = {"code": "ZZZZZZZZ", "birth_year": "1990", "token": "not-a-token", "csrf_token": token}
        return phone.post(path, data=data, headers=HX, environ_base=CGNAT).status_code

    crowd = [ask(app.test_client()) for _ in range(100)]
    assert crowd == [422] * 100  # an unknown code / an unreadable token: answered, never limited
    per_device = int(re.match(r"\d+", app.config["KIEMDICH_LOOKUP_RATE" if path == "/tra-cuu"
                                                  else "KIEMDICH_STATUS_RATE"]).group(0))
    one = [ask(client) for _ in range(per_device + 1)]
    assert one == [422] * per_device + [429]

"""Officers are told (Web Push) and returnees reminded (SMS gateway).

Push messages go to a push endpoint on loopback (a tiny HTTP server in the test): what pywebpush
POSTs is decrypted here with the subscription's private key (http_ece, RFC 8291), and its VAPID
header is checked against the key the app created in instance/.
"""
import base64
import json
import os
import secrets
import stat
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import func, select

from kiemdich import clock, create_app
from kiemdich.extensions import db
from kiemdich.models import PushSubscription, SmsMessage
from kiemdich.notify import push, sms, tasks
from kiemdich.notify.sms import SendResult
from kiemdich.declarations.operations import token_for
from tests.conftest import AuthActions, csrf_token
from tests.factories import ArrivalFactory, HealthCheckFactory, UserFactory


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on loopback: records each POST, answers `status`."""

    def __init__(self):
        self.received = []
        self.status = 201
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Browser:
    """What a browser keeps for one subscription: its ECDH key pair and auth secret."""

    def __init__(self, service: PushService, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)
        self.endpoint = f"{service.base}/push/{name}"

    def json(self) -> dict:
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


@pytest.fixture
def service():
    s = PushService()
    yield s
    s.stop()


def subscribe(client, auth, username, browser):
    auth.login(username)
    token = csrf_token(client, "/xa")
    return client.post("/thong-bao/dang-ky", json=browser.json(), headers={"X-CSRFToken": token})


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_red_self_declaration_is_pushed_at_once_encrypted_for_the_officers_of_that_commune(
        app, client, auth, users, service):
    phone_1, elsewhere = Browser(service, "xa1-phone"), Browser(service, "xa2-phone")
    UserFactory(username="xa2", role="commune", area_codes=["25432"])
    db.session.commit()
    for username, browser in (("xa1", phone_1), ("xa2", elsewhere)):  # each on their own phone
        device = app.test_client()
        assert subscribe(device, AuthActions(device), username, browser).status_code == 200
    arrival = ArrivalFactory(status="monitoring", commune_code="25210")
    db.session.commit()

    decl = arrival.declaration  # read before the requests, which share this test's session
    # The returnee declares a fever from their status link: the arrival turns red.
    response = client.post("/q/suc-khoe", data={"token": token_for(decl), "symptoms": ["sot"],
                                                 "client_uuid": str(uuid.uuid4())})
    assert response.status_code == 200
    assert [path for path, _h, _b in service.received] == ["/push/xa1-phone"]  # not the other commune's officer
    _path, headers, body = service.received[0]
    assert headers["content-encoding"] == "aes128gcm" and "Đồng Xoài".encode() not in body  # opaque to the service
    message = phone_1.decrypt(body)
    assert message["title"] == "Có dấu hiệu bệnh"
    assert "Phường Đồng Xoài" in message["body"] and decl.full_name not in message["body"]
    assert message["url"] == f"/xa/nguoi-den/{decl.code}"

    # VAPID (RFC 8292): a JWT for this push service, signed with the key created in instance/.
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert scheme == "vapid" and fields["k"] == push.application_server_key()
    jwt_head, jwt_claims, jwt_sig = fields["t"].split(".")
    claims = json.loads(unb64(jwt_claims))
    assert claims["aud"] == service.base and claims["exp"] > clock.utcnow().timestamp()
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(fields["k"]))
    sig = unb64(jwt_sig)
    public.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
                  f"{jwt_head}.{jwt_claims}".encode(), ec.ECDSA(hashes.SHA256()))

    # Still red on the next declaration: no second message.
    client.post("/q/suc-khoe", data={"token": token_for(decl), "symptoms": ["ho"],
                                     "client_uuid": str(uuid.uuid4())})
    assert len(service.received) == 1


def test_an_officers_red_check_pushes_too_but_a_refused_one_does_not(app, client, auth, users, service):
    phone = Browser(service, "xa1")
    subscribe(client, auth, "xa1", phone)
    arrival = ArrivalFactory(status="monitoring")
    db.session.commit()
    token = csrf_token(client, "/xa")
    code = arrival.declaration.code
    bad = client.post(f"/xa/nguoi-den/{code}/kiem-tra", data={"temperature": "39", "spo2": "12", "source": "visit"},
                      headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert bad.status_code == 422 and service.received == []  # rolled back: nobody told
    ok = client.post(f"/xa/nguoi-den/{code}/kiem-tra", data={"temperature": "39.2", "source": "visit"},
                     headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert ok.status_code == 200 and len(service.received) == 1
    assert phone.decrypt(service.received[0][2])["url"] == f"/xa/nguoi-den/{code}"


def test_each_morning_an_officer_is_told_how_many_new_people_are_coming(app, client, auth, users, service):
    phone = Browser(service, "xa1")
    subscribe(client, auth, "xa1", phone)
    now = clock.utcnow()
    for hours in (2, 20):
        ArrivalFactory(status="expected", expected_at=now - timedelta(hours=hours))
    ArrivalFactory(status="expected", expected_at=now - timedelta(hours=40))  # told yesterday
    ArrivalFactory(status="monitoring", expected_at=now - timedelta(hours=3))  # already arrived
    ArrivalFactory(status="expected", commune_code="25432", expected_at=now - timedelta(hours=1))
    db.session.commit()
    assert tasks.morning_task.call_local() == 1
    message = phone.decrypt(service.received[0][2])
    assert message["body"] == "2 người mới sẽ đến xã bạn hôm nay" and message["url"] == "/xa/ds/expected"


def test_a_subscription_the_push_service_says_is_gone_is_forgotten(app, client, auth, users, service):
    subscribe(client, auth, "xa1", Browser(service, "old"))
    ArrivalFactory(status="expected", expected_at=clock.utcnow())
    db.session.commit()
    service.status = 410
    assert tasks.morning_task.call_local() == 0
    assert len(service.received) == 1 and count(PushSubscription) == 0


def test_signing_out_unsubscribes_this_device_only(app, client, auth, users, service):
    other_device = app.test_client()
    subscribe(other_device, AuthActions(other_device), "xa1", Browser(service, "tablet"))
    assert subscribe(client, auth, "xa1", Browser(service, "phone")).status_code == 200
    assert count(PushSubscription) == 2
    auth.logout()
    db.session.expire_all()
    assert [s.endpoint for s in db.session.scalars(select(PushSubscription))] == [f"{service.base}/push/tablet"]


def test_a_damaged_subscription_is_refused_and_nothing_stored(app, client, auth, users, service):
    browser = Browser(service, "x").json()
    browser["keys"]["p256dh"] = "abc"
    response = subscribe(client, auth, "xa1", type("B", (), {"json": lambda self: browser})())
    assert response.status_code == 422 and "không dùng được" in response.get_json()["error"]
    token = csrf_token(client, "/xa")
    for junk in ([1, 2], "x", {"endpoint": "javascript:alert(1)", "keys": "k"}, {"endpoint": "https://a/" + "x" * 2000}):
        response = client.post("/thong-bao/dang-ky", json=junk, headers={"X-CSRFToken": token})
        assert response.status_code == 422, junk
    assert count(PushSubscription) == 0
    auth.logout()
    assert subscribe(client, auth, "chot1", Browser(service, "y")).status_code == 403  # commune officers only


def test_the_vapid_key_is_created_in_instance_once_and_kept(app):
    path = push.key_path(app)
    assert path.parent == __import__("pathlib").Path(app.instance_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = push.application_server_key()
    again = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]})
    with again.app_context():
        assert push.application_server_key() == key
    html_key = unb64(key)
    assert len(html_key) == 65 and html_key[0] == 4  # an uncompressed P-256 point, for pushManager.subscribe


# SMS reminders through the pluggable gateway ----------------------------------------------------

class FakeProvider:
    """A province's provider as the README describes it: records what it was asked to send."""

    sent = []

    def __init__(self, app):
        self.sender = app.config.get("FAKE_SENDER", "")

    def send(self, phone, body):
        if phone.endswith("0"):
            return SendResult(sent=False, error="blocked number")
        FakeProvider.sent.append((self.sender, phone, body))
        return SendResult(sent=True, ref=f"msg-{len(FakeProvider.sent)}")


def reminder_people():
    due = ArrivalFactory(status="monitoring", declaration__phone="0987001122")
    ArrivalFactory(status="monitoring", declaration__phone="0987001133")
    HealthCheckFactory(arrival=ArrivalFactory(status="monitoring", declaration__phone="0987001144"),
                       check_date=clock.today())  # already declared today
    ArrivalFactory(status="monitoring", declaration__phone="")  # no phone
    ArrivalFactory(status="completed", declaration__phone="0987001155")
    db.session.commit()
    return due


def test_by_default_reminders_are_only_recorded_and_shown_to_the_administrator(app, client, auth, users):
    app.config["KIEMDICH_PUBLIC_URL"] = "https://kiemdich.dongnai.gov.vn"
    due = reminder_people()
    assert tasks.reminder_task.call_local() == 2
    db.session.expire_all()
    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
    assert [(m.to_phone, m.status, m.gateway) for m in rows] == [
        ("0987001122", "recorded", sms.DEFAULT), ("0987001133", "recorded", sms.DEFAULT)]
    assert rows[0].arrival_id == due.id and rows[0].body.isascii()
    assert rows[0].body.startswith("Tram y te nhac: hay khai bao suc khoe hom nay tai https://kiemdich.dongnai.gov.vn/q#")
    auth.login("admin1")
    html = client.get("/quan-tri/tin-nhan").get_data(as_text=True)
    assert "Chưa cấu hình cổng SMS" in html and "0987001122" in html and "đã ghi, chưa gửi" in html
    auth.logout()
    auth.login("xa1")
    assert client.get("/quan-tri/tin-nhan").status_code == 403


def test_a_province_plugs_in_its_provider_by_class_path(app, client, auth, users):
    app.config.update(KIEMDICH_PUBLIC_URL="https://kiemdich.dongnai.gov.vn",
                      KIEMDICH_SMS_GATEWAY="tests.test_notify.FakeProvider", FAKE_SENDER="SYT-DONGNAI")
    FakeProvider.sent.clear()
    reminder_people()
    assert tasks.reminder_task.call_local() == 2
    assert [(s, p) for s, p, _b in FakeProvider.sent] == [("SYT-DONGNAI", "0987001122"), ("SYT-DONGNAI", "0987001133")]
    db.session.expire_all()
    statuses = [(m.status, m.provider_ref, m.gateway) for m in db.session.scalars(select(SmsMessage).order_by(SmsMessage.id))]
    assert statuses == [("sent", "msg-1", "tests.test_notify.FakeProvider"), ("sent", "msg-2", "tests.test_notify.FakeProvider")]
    auth.login("admin1")
    html = client.get("/quan-tri/tin-nhan").get_data(as_text=True)
    assert "tests.test_notify.FakeProvider" in html and "Chưa cấu hình cổng SMS" not in html


def test_a_misnamed_gateway_is_a_clear_error(app):
    app.config["KIEMDICH_SMS_GATEWAY"] = "kiemdich.nowhere.Provider"
    with pytest.raises(ValueError, match="KIEMDICH_SMS_GATEWAY"):
        sms.load_gateway()


def test_the_red_push_is_a_queue_job_enqueued_only_once_committed(app, client, auth, users, service, tmp_path):
    """Outside immediate mode: the web request only enqueues; a worker executing the job sends."""
    from kiemdich import tasks as queue
    from kiemdich.followup import operations as ops

    phone = Browser(service, "xa1")
    subscribe(client, auth, "xa1", phone)
    arrival = ArrivalFactory(status="monitoring")
    db.session.commit()
    queue.use_sqlite_file(tmp_path / "huey.db")
    try:
        ops.record_check(arrival, ops.CheckInput(temperature="39.5", source="phone"), client_uuid=None)
        assert queue.huey.pending_count() == 0  # not yet committed: nothing enqueued
        db.session.rollback()
        assert queue.huey.pending_count() == 0  # rolled back: never
        ops.record_check(arrival, ops.CheckInput(temperature="39.5", source="phone"), client_uuid=None)
        db.session.commit()
        [job] = queue.huey.pending()
        assert job.name.endswith("red_task") and job.args == (arrival.id,) and service.received == []
        queue.huey.execute(queue.huey.dequeue())
        assert phone.decrypt(service.received[0][2])["url"] == f"/xa/nguoi-den/{arrival.declaration.code}"
    finally:
        queue.huey.immediate = True


def test_symptoms_declared_at_the_border_push_when_the_arrival_is_routed(app, client, auth, users, service):
    from kiemdich.followup.operations import route_arrival
    from tests.factories import DeclarationFactory

    phone = Browser(service, "xa1")
    subscribe(client, auth, "xa1", phone)
    calm = DeclarationFactory(dest_commune_code="25210", symptoms=[])
    feverish = DeclarationFactory(dest_commune_code="25210", symptoms=["sot", "ho"])
    route_arrival(calm)
    db.session.commit()
    assert service.received == []  # routed without symptoms: nobody is woken up
    arrival = route_arrival(feverish)
    assert service.received == []  # nothing before the commit
    db.session.commit()
    assert arrival.flagged and len(service.received) == 1
    assert phone.decrypt(service.received[0][2])["url"] == f"/xa/nguoi-den/{feverish.code}"

"""Rotating the key that signs personal QR codes: the next key is published before it signs, the
old one keeps verifying until its last code has expired (at checkpoints) and on the status page,
a leaked key is revoked at once, and running processes pick a rotation up without a restart."""
import json
import stat
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from kiemdich import clock, tokens
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from tests.factories import DeclarationFactory


@pytest.fixture(autouse=True)
def no_reload_delay(monkeypatch):
    monkeypatch.setattr(tokens, "RELOAD_SECONDS", 0)


@pytest.fixture
def path(app):
    return tokens.key_path(app)


def kid(key) -> str:
    return tokens.key_id(key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key)


def published(client) -> list[str]:
    return [k["kid"] for k in client.get("/khoa-cong-khai.json").get_json()["keys"]]


def test_prepared_key_is_published_and_trusted_but_does_not_sign(app, client, path):
    old = tokens.signing_key()
    nxt = tokens.prepare_next(path)
    assert published(client) == [kid(old), kid(nxt)]
    assert kid(tokens.signing_key()) == kid(old)
    next_private = tokens._read_key(tokens.next_path(path))
    decl = DeclarationFactory()
    db.session.commit()
    signed_by_next = tokens.encode(token_id=decl.token_id, valid_until=decl.valid_until, travel_date=decl.travel_date,
                                   birth_year=decl.birth_year, dest_commune_code=decl.dest_commune_code,
                                   vaccination="full", symptoms=False, on_behalf=False, id_number=decl.id_number,
                                   full_name=decl.full_name, key=next_private)
    assert tokens.verify(signed_by_next).token_id == decl.token_id
    assert stat.S_IMODE(tokens.next_path(path).stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        tokens.prepare_next(path)


def test_after_rotation_new_key_signs_and_old_codes_pass_until_they_expire(app, client, path):
    decl = DeclarationFactory()
    db.session.commit()
    before = token_for(decl)
    old = kid(tokens.signing_key())
    nxt = kid(tokens.prepare_next(path))
    now = clock.utcnow()
    assert tokens.rotate(path, now=now, passage_until=decl.valid_until) == (old, nxt)

    assert kid(tokens.signing_key()) == nxt
    after = token_for(decl)
    assert tokens.verify(after, public_key=tokens.signing_key().public_key()).token_id == decl.token_id
    assert tokens.verify(before).token_id == decl.token_id  # still valid for passage
    assert published(client) == [nxt, old]

    later = decl.valid_until + timedelta(seconds=1)
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(before, now=later)
    assert err.value.reason == "expired"  # its own end, not the key's
    assert tokens.verify(before, now=later, check_expiry=False).token_id == decl.token_id  # status page
    assert [tokens.key_id(k) for k in tokens.keyring().published(later)] == [nxt]  # no code of it can pass

    saved = json.loads(tokens.retired_path(path).read_text())["keys"]
    assert [k["kid"] for k in saved] == [old] and "d" not in saved[0]  # the private half is gone
    assert not tokens.next_path(path).exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_status_page_still_opens_with_a_code_of_the_old_key(app, client, path):
    decl = DeclarationFactory(full_name="Trần Thị Bích Ngọc")
    db.session.commit()
    before = token_for(decl)
    tokens.rotate(path, now=clock.utcnow(), passage_until=decl.valid_until)
    response = client.post("/q/trang-thai", data={"token": before}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Trần Thị Bích Ngọc" in response.get_data(as_text=True)


def test_revoking_forgets_the_old_keys_at_once(app, client, path):
    decl = DeclarationFactory()
    db.session.commit()
    first = token_for(decl)
    tokens.rotate(path, now=clock.utcnow(), passage_until=decl.valid_until)
    second = token_for(decl)
    tokens.rotate(path, now=clock.utcnow(), passage_until=decl.valid_until, revoke=True)
    for token in (first, second):
        with pytest.raises(tokens.TokenError) as err:
            tokens.verify(token, check_expiry=False)
        assert err.value.reason == "signature"
    assert published(client) == [kid(tokens.signing_key())]
    assert client.post("/q/trang-thai", data={"token": first}).status_code == 422
    assert tokens.verify(token_for(decl)).token_id == decl.token_id


def test_another_process_picks_the_rotation_up_without_a_restart(app, path):
    from kiemdich import create_app

    other = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with other.app_context():
        assert kid(tokens.signing_key()) == kid(tokens._read_key(path))
    old, new = tokens.rotate(path, now=clock.utcnow(), passage_until=clock.utcnow())
    with other.app_context():
        assert kid(tokens.signing_key()) == new
        assert [tokens.key_id(k) for k in tokens.keyring().verifiers()] == [new, old]


def test_rotate_key_command_prepares_rotates_and_audits(app, runner, path):
    decl = DeclarationFactory(valid_until=clock.utcnow() + timedelta(hours=70))
    db.session.commit()
    old = kid(tokens.signing_key())
    result = runner.invoke(args=["kiemdich", "rotate-key", "--prepare"])
    assert result.exit_code == 0, result.output
    nxt = kid(tokens._read_key(tokens.next_path(path)))
    assert f"Next key {nxt} prepared" in result.output
    assert runner.invoke(args=["kiemdich", "rotate-key", "--prepare"]).exit_code != 0  # one at a time

    result = runner.invoke(args=["kiemdich", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert f"Key {nxt} now signs" in result.output and "Warning" not in result.output
    retired, = tokens.keyring().retired
    assert tokens.key_id(retired.public_key) == old
    assert abs(retired.passage_until - decl.valid_until) < timedelta(seconds=1)  # the last code's end

    result = runner.invoke(args=["kiemdich", "rotate-key", "--revoke"])
    assert result.exit_code == 0 and "Warning: no next key" in result.output and "forgotten" in result.output
    assert tokens.keyring().retired == []
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["key.prepare", "key.rotate", "key.revoke"]

"""The personal QR token: round trip, the refusals, the key on disk, the JWK, and the QR it makes."""
import base64
import io
import os
import stat
from datetime import date, datetime, timedelta, timezone

import pytest
import segno
import zxingcpp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from PIL import Image

from kiemdich import create_app, qrcodes, tokens

LONGEST_NAME = "Công Tằng Tôn Nữ Thị Hoàng Phương Thảo"  # royal-family style, 9 words, 38 letters
REAL_HOST = "https://kiemdich.dongnai.gov.vn"  # the length of a provincial .gov.vn address
NOW = datetime(2021, 10, 20, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def key():
    return ec.generate_private_key(ec.SECP256R1())


def _token(key, **overrides):
    fields = dict(token_id="0123456789abcdef", valid_until=NOW + timedelta(hours=72),
                  travel_date=date(2021, 10, 20), birth_year=1990, dest_commune_code="00004",
                  vaccination="partial", symptoms=True, on_behalf=False, id_number="079190123456",
                  full_name="Trần Thị Bích Ngọc", key=key)
    fields.update(overrides)
    return tokens.encode(**fields)


def _raw(token):
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _text(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_gives_back_every_field(key):
    data = tokens.verify(_token(key), now=NOW, public_key=key.public_key())
    assert data == tokens.TokenData(
        token_id="0123456789abcdef", valid_until=NOW + timedelta(hours=72), travel_date=date(2021, 10, 20),
        birth_year=1990, dest_commune_code="00004", vaccination="partial", symptoms=True, on_behalf=False,
        id_last4="3456", name="TRAN THI BICH NGOC")


def test_layout_is_the_documented_one(key):
    """The offsets the browser verifier (issue 4) relies on."""
    raw = _raw(_token(key, on_behalf=True, vaccination="recovered"))
    assert raw[0] == 1
    assert raw[1:9].hex() == "0123456789abcdef"
    assert int.from_bytes(raw[9:13], "big") == int((NOW + timedelta(hours=72)).timestamp())
    assert int.from_bytes(raw[13:15], "big") == (date(2021, 10, 20) - date(1970, 1, 1)).days
    assert int.from_bytes(raw[15:17], "big") == 1990
    assert int.from_bytes(raw[17:20], "big") == 4
    assert raw[20] == 3 | 4 | 8  # recovered, symptoms, on behalf
    assert raw[21:25] == b"3456"
    assert raw[26:26 + raw[25]] == b"TRAN THI BICH NGOC"
    assert len(raw) == 26 + raw[25] + 64
    # The last 64 bytes are r || s, which is what WebCrypto verifies.
    r, s = int.from_bytes(raw[-64:-32], "big"), int.from_bytes(raw[-32:], "big")
    key.public_key().verify(encode_dss_signature(r, s), raw[:-64], ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("position", [0, 1, 9, 14, 16, 18, 20, 22, 25, 27, -64, -33, -1])
def test_one_byte_changed_is_refused(key, position):
    raw = bytearray(_raw(_token(key)))
    raw[position] ^= 0x01
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(_text(bytes(raw)), now=NOW, public_key=key.public_key())
    assert err.value.reason in ("signature", "malformed")


def test_every_single_byte_change_is_refused(key):
    raw = _raw(_token(key))
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 0x80
        with pytest.raises(tokens.TokenError):
            tokens.verify(_text(bytes(changed)), now=NOW, public_key=key.public_key())


def test_expired_token_is_refused_for_passage_but_readable_for_the_status_page(key):
    token = _token(key)
    later = NOW + timedelta(hours=72, seconds=1)
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(token, now=later, public_key=key.public_key())
    assert err.value.reason == "expired"
    assert tokens.verify(token, now=later, public_key=key.public_key(), check_expiry=False).birth_year == 1990
    assert tokens.verify(token, now=NOW + timedelta(hours=72), public_key=key.public_key())  # the last second


def test_token_signed_by_another_key_is_refused(key):
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(_token(other), now=NOW, public_key=key.public_key())
    assert err.value.reason == "signature"
    with pytest.raises(tokens.TokenError):  # not even for the status page
        tokens.verify(_token(other), now=NOW, public_key=key.public_key(), check_expiry=False)


@pytest.mark.parametrize("text", ["", "abc", "!!!!", "a" * 500, _text(b"\x02" + bytes(120))])
def test_malformed_text_is_refused(key, text):
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(text, now=NOW, public_key=key.public_key())
    assert err.value.reason == "malformed"


def test_truncated_or_extended_token_is_refused(key):
    raw = _raw(_token(key))
    for bad in (raw[:-1], raw + b"\x00", raw[:26] + raw[27:]):
        with pytest.raises(tokens.TokenError):
            tokens.verify(_text(bad), now=NOW, public_key=key.public_key())


def test_token_name_is_ascii_upper_case_and_cut_at_a_word():
    assert tokens.token_name("  Nguyễn   Văn Đức ") == "NGUYEN VAN DUC"
    long = tokens.token_name(LONGEST_NAME + " Nguyên Khánh Ngọc")
    assert len(long) <= tokens.MAX_NAME and long == "CONG TANG TON NU THI HOANG PHUONG THAO"


def test_longest_realistic_name_fits_qr_version_10_at_m(key):
    token = _token(key, full_name=LONGEST_NAME, valid_until=datetime(2099, 1, 1, tzinfo=timezone.utc))
    qr = qrcodes.make(qrcodes.personal_url(token, base=REAL_HOST))
    assert qr.version <= 10
    assert qr.error in ("M", "Q", "H")  # at least M (segno raises it when the version allows)
    assert not qr.is_micro


def test_key_is_created_once_private_and_reused(tmp_path):
    instance = tmp_path / "inst"
    os.environ["KIEMDICH_INSTANCE"] = str(instance)
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        path = instance / "qr-signing-key.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with app.app_context():
            first = tokens.public_jwk()
        again = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        with again.app_context():
            assert tokens.public_jwk() == first  # a restart keeps the key: issued QR codes stay valid
        assert not list(instance.glob(".*.tmp"))
    finally:
        os.environ.pop("KIEMDICH_INSTANCE", None)


def test_key_file_is_ignored_by_git():
    import subprocess

    root = os.path.dirname(os.path.dirname(__file__))
    out = subprocess.run(["git", "check-ignore", "instance/qr-signing-key.pem"], cwd=root,
                         capture_output=True, text=True)
    assert out.returncode == 0


def test_public_key_endpoint_serves_a_jwk_set_that_verifies_tokens(app, client):
    response = client.get("/khoa-cong-khai.json")
    assert response.status_code == 200
    assert "max-age=300" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    jwk, = response.get_json()["keys"]  # a JWK set: one key until a rotation (tests/test_key_rotation.py)
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
    x = int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="), "big")
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
    public = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    token = _token(tokens.signing_key())
    assert tokens.verify(token, now=NOW, public_key=public).name == "TRAN THI BICH NGOC"
    etag = response.headers["ETag"]
    assert client.get("/khoa-cong-khai.json", headers={"If-None-Match": etag}).status_code == 304


def test_qr_png_decodes_to_exactly_the_personal_url(key):
    token = _token(key, full_name=LONGEST_NAME)
    url = qrcodes.personal_url(token, base=REAL_HOST)
    png = qrcodes.png_bytes(qrcodes.make(url), min_pixels=480)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [b.text for b in found] == [url]
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode


def test_inline_svg_is_sized_by_css_and_has_no_inline_style(key):
    svg = str(qrcodes.svg_inline(segno.make_qr("https://x/c/ABCD1234", error="m"), "Chốt"))
    assert svg.startswith("<svg") and 'class="qr"' in svg and "viewBox" in svg
    assert "style=" not in svg and "width=" not in svg.split(">")[0]


def test_a_token_of_another_layout_version_is_refused_even_when_signed_by_us(key):
    """The version byte decides how the rest is read: a token of another version, though signed by
    a key we trust (a future layout, a test build), is refused as malformed, never misread."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    raw = bytearray(_raw(_token(key))[:-tokens.SIG_SIZE])
    raw[0] = tokens.VERSION + 1
    r, s = decode_dss_signature(key.sign(bytes(raw), ec.ECDSA(hashes.SHA256())))
    other_version = _text(bytes(raw) + r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    with pytest.raises(tokens.TokenError) as err:
        tokens.verify(other_version, now=NOW, public_key=key.public_key())
    assert err.value.reason == "malformed"

"""The personal QR token: a compact binary record signed with ECDSA P-256, verifiable offline.

The QR holds ``https://<host>/q#<token>``; the token sits in the URL fragment, so it never
reaches a server log. ``<token>`` is base64url without padding of the bytes below (all
integers big-endian, unsigned). Format version 1:

    offset  size  field
    0       1     format version, 1
    1       8     token id (random; Declaration.token_id is these 8 bytes as 16 hex digits)
    9       4     valid until, Unix seconds (UTC): the end of the window for passage at a checkpoint
    13      2     travel date, days since 1970-01-01
    15      2     birth year
    17      3     destination commune code as an integer, 0 if none (display as 5 digits, zero-padded)
    20      1     flags: bits 0-1 vaccination (0 none, 1 partial, 2 full, 3 recovered),
                  bit 2 symptoms declared in the last 7 days, bit 3 declared on behalf (khai hộ);
                  bits 4-7 are 0
    21      4     last 4 characters of the ID number, ASCII (left-padded with "0" if shorter)
    25      1     n, length of the name (n <= 40)
    26      n     full name, upper-case ASCII without diacritics ("NGUYEN VAN AN"), as PC-Covid prints it
    26+n    64    signature: raw r || s (32 bytes each) of ECDSA P-256 with SHA-256 over bytes [0, 26+n)

The raw r || s form is what WebCrypto's ``crypto.subtle.verify({name: "ECDSA", hash: "SHA-256"},
key, signature, data)`` expects; `cryptography` signs in DER, hence the conversion both ways.
The public keys are served as a JWK set at ``/khoa-cong-khai.json``. `verify` here is the only
verifier on the server side.

Key rotation. The token names no key (a byte more in every QR for an event of a few times a
year): a verifier tries each key it trusts, at most a handful. Beside the signing key
(``qr-signing-key.pem``) the instance folder may hold:

    qr-signing-key.next.pem      the next key, prepared ahead (`flask kiemdich rotate-key --prepare`):
                                 published and trusted, not yet signing, so scan screens that
                                 go offline learn it before the first code it signs
    qr-signing-key.retired.json  the public halves of earlier keys (their private halves are
                                 deleted), each with the end of its last code's passage window

`rotate` makes the next (or a new) key sign; the old public key keeps verifying: in the JWK set
given to scan screens until the last code it signed has expired for passage, on the server
(status page, returnee actions: signature only) until forgotten with ``--revoke``. Every
process re-reads these files when they change, within seconds, without a restart.
"""
import base64
import hashlib
import json
import os
import struct
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from flask import Flask, current_app

from . import clock
from .text import fold

VERSION = 1
FIXED = struct.Struct(">B8sIHH")  # version, token id, valid until, travel date, birth year
HEADER_SIZE = 26  # FIXED, commune (3), flags (1), last 4 of the ID (4), name length (1)
SIG_SIZE = 64
MAX_NAME = 40
VACCINATION = ("none", "partial", "full", "recovered")
EPOCH = date(1970, 1, 1)
_EXT_KEY = "kiemdich.keyring"
RELOAD_SECONDS = 2.0  # how often a process looks at the key files' modification times


class TokenError(ValueError):
    """A token that must be refused; `reason` is one of malformed, signature, expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenData:
    """What a verified token says."""

    token_id: str
    valid_until: datetime
    travel_date: date
    birth_year: int
    dest_commune_code: str | None
    vaccination: str
    symptoms: bool
    on_behalf: bool
    id_last4: str
    name: str


# Keys ------------------------------------------------------------------------------------------

def key_path(app: Flask) -> Path:
    return Path(app.config.get("KIEMDICH_QR_KEY_FILE") or Path(app.instance_path) / "qr-signing-key.pem")


def next_path(path: Path) -> Path:
    return path.with_name(path.stem + ".next.pem")


def retired_path(path: Path) -> Path:
    return path.with_name(path.stem + ".retired.json")


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a secret file (mode 0600) atomically: a private temporary file, then linked into place
    (refusing to replace, for first start races) or renamed over the old one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if replace:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise RuntimeError(f"{path} is not an ECDSA P-256 private key")
    return key


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The signing key at `path`, created (mode 0600) if absent.

    Several workers may start at once: the key is written to a private temporary file and
    hard-linked into place, which fails if another worker won, so every worker ends up
    reading the same key.
    """
    if not path.exists():
        _write_private(path, _pem(ec.generate_private_key(ec.SECP256R1())), replace=False)
    return _read_key(path)


@dataclass(frozen=True)
class RetiredKey:
    """The public half of a key that no longer signs."""

    public_key: ec.EllipticCurvePublicKey
    retired_at: datetime
    passage_until: datetime  # the last code it signed is valid for passage until then


class Keyring:
    """The keys of one instance folder: the one that signs, the prepared next one, the retired ones."""

    def __init__(self, path: Path):
        self.path = path
        load_or_create_key(path)  # on first start; the files are stamped before they are read
        self.stamp = self._stamp()
        self.signing = _read_key(path)
        nxt = next_path(path)
        self.next = _read_key(nxt).public_key() if nxt.exists() else None
        self.retired = _read_retired(retired_path(path))
        self.checked = time.monotonic()

    def _stamp(self) -> tuple:
        out = []
        for p in (self.path, next_path(self.path), retired_path(self.path)):
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def fresh(self) -> "Keyring":
        """This keyring, or a new one if a file changed on disk (a rotation)."""
        now = time.monotonic()
        if now - self.checked < RELOAD_SECONDS:
            return self
        self.checked = now
        return self if self._stamp() == self.stamp else Keyring(self.path)

    def verifiers(self) -> list[ec.EllipticCurvePublicKey]:
        """Every public key a token may be signed with, the signing one first."""
        keys = [self.signing.public_key()]
        if self.next is not None:
            keys.append(self.next)
        return keys + [r.public_key for r in self.retired]

    def published(self, now: datetime) -> list[ec.EllipticCurvePublicKey]:
        """The keys scan screens need: the signing one, the next one, and the retired ones whose
        last code may still be valid for passage."""
        keys = [self.signing.public_key()] + ([self.next] if self.next is not None else [])
        return keys + [r.public_key for r in self.retired if r.passage_until >= now]


def _public_from_jwk(jwk: dict) -> ec.EllipticCurvePublicKey:
    x = int.from_bytes(_unpad(jwk["x"]), "big")
    y = int.from_bytes(_unpad(jwk["y"]), "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def _unpad(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _read_retired(path: Path) -> list[RetiredKey]:
    if not path.exists():
        return []
    entries = json.loads(path.read_text(encoding="utf-8")).get("keys", [])
    return [RetiredKey(_public_from_jwk(e), datetime.fromisoformat(e["retired_at"]),
                       datetime.fromisoformat(e["passage_until"])) for e in entries]


def _write_retired(path: Path, keys: list[RetiredKey]) -> None:
    entries = [public_jwk(k.public_key) | {"retired_at": k.retired_at.isoformat(),
                                            "passage_until": k.passage_until.isoformat()} for k in keys]
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"keys": entries}, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def prepare_next(path: Path) -> ec.EllipticCurvePublicKey:
    """Create the next key beside the signing key (published and trusted, not yet signing)."""
    nxt = next_path(path)
    if nxt.exists():
        raise FileExistsError(f"a next key is already prepared ({key_id(_read_key(nxt).public_key())})")
    _write_private(nxt, _pem(ec.generate_private_key(ec.SECP256R1())), replace=False)
    return _read_key(nxt).public_key()


def rotate(path: Path, *, now: datetime, passage_until: datetime, revoke: bool = False) -> tuple[str, str]:
    """Make the prepared next key (or a new one) sign. The old key's public half is kept as
    retired (its last code is valid for passage until `passage_until`); with `revoke`, it and
    every earlier retired key are forgotten instead: their codes stop verifying at once.
    Returns (old kid, new kid). Files are replaced atomically, the retired list first, so a
    process reading them in between trusts both keys."""
    old = load_or_create_key(path)
    nxt = next_path(path)
    new = _read_key(nxt) if nxt.exists() else ec.generate_private_key(ec.SECP256R1())
    retired = [] if revoke else _read_retired(retired_path(path)) + [
        RetiredKey(old.public_key(), now, max(passage_until, now))]
    _write_retired(retired_path(path), retired)
    _write_private(path, _pem(new), replace=True)
    nxt.unlink(missing_ok=True)
    return key_id(old.public_key()), key_id(new.public_key())


def init_app(app: Flask) -> None:
    """Load the keys, creating the signing key in instance/ on first start."""
    app.extensions[_EXT_KEY] = Keyring(key_path(app))


def keyring() -> Keyring:
    """The app's keys, re-read when a rotation changed them on disk."""
    ring = current_app.extensions[_EXT_KEY]
    fresh = ring.fresh()
    if fresh is not ring:
        current_app.extensions[_EXT_KEY] = fresh
    return fresh


def signing_key() -> ec.EllipticCurvePrivateKey:
    return keyring().signing


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """A short stable name for the key: the start of the SHA-256 of its point."""
    point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64(hashlib.sha256(point).digest()[:8])


def public_jwk(public_key: ec.EllipticCurvePublicKey | None = None) -> dict:
    """A public key as a JWK, for `crypto.subtle.importKey("jwk", ...)` (the signing one by default)."""
    public_key = public_key or signing_key().public_key()
    numbers = public_key.public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")), "alg": "ES256", "use": "sig",
            "key_ops": ["verify"], "kid": key_id(public_key)}


def public_jwks(now: datetime | None = None) -> dict:
    """The JWK set scan screens verify with (RFC 7517 "keys"), the signing key first."""
    return {"keys": [public_jwk(k) for k in keyring().published(now or clock.utcnow())]}


# Encoding --------------------------------------------------------------------------------------

def token_name(full_name: str) -> str:
    """The name as carried in the token: upper-case ASCII, at most MAX_NAME characters,
    cut at a word boundary when it must be shortened."""
    ascii_name = "".join(c for c in fold(full_name).upper() if c.isascii() and (c.isalnum() or c in " -.'"))
    ascii_name = " ".join(ascii_name.split())
    if len(ascii_name) <= MAX_NAME:
        return ascii_name
    cut = ascii_name[:MAX_NAME]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def encode(*, token_id: str, valid_until: datetime, travel_date: date, birth_year: int,
           dest_commune_code: str | None, vaccination: str, symptoms: bool, on_behalf: bool,
           id_number: str, full_name: str, key: ec.EllipticCurvePrivateKey | None = None) -> str:
    """Sign the fields and return the token text for the URL fragment."""
    key = key or signing_key()
    raw_id = bytes.fromhex(token_id)
    if len(raw_id) != 8:
        raise ValueError("token_id must be 16 hex digits")
    commune = int(dest_commune_code) if dest_commune_code and dest_commune_code.isdigit() else 0
    if commune >= 1 << 24:
        raise ValueError("commune code does not fit in 3 bytes")
    flags = VACCINATION.index(vaccination) | (4 if symptoms else 0) | (8 if on_behalf else 0)
    last4 = (id_number or "")[-4:].rjust(4, "0").upper().encode("ascii", "replace")
    name = token_name(full_name).encode("ascii")
    until = int(valid_until.astimezone(timezone.utc).timestamp())
    header = (FIXED.pack(VERSION, raw_id, until, (travel_date - EPOCH).days, birth_year)
              + commune.to_bytes(3, "big") + bytes([flags]) + last4 + bytes([len(name)]))
    payload = header + name
    r, s = decode_dss_signature(key.sign(payload, ec.ECDSA(hashes.SHA256())))
    return _b64(payload + r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def _unb64(text: str) -> bytes:
    text = (text or "").strip()
    if not text or len(text) > 400 or not all(c.isalnum() or c in "-_" for c in text):
        raise TokenError("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as err:
        raise TokenError("malformed") from err


def verify(token: str, *, now: datetime | None = None, check_expiry: bool = True,
           public_key: ec.EllipticCurvePublicKey | None = None) -> TokenData:
    """The token's fields if its signature is ours (by any key we trust, or `public_key`) and,
    with check_expiry, it is still valid for passage; otherwise TokenError. The status page
    checks the signature only."""
    raw = _unb64(token)
    if len(raw) < HEADER_SIZE + SIG_SIZE or raw[0] != VERSION:
        raise TokenError("malformed")
    name_len = raw[HEADER_SIZE - 1]
    end = HEADER_SIZE + name_len
    if name_len > MAX_NAME or len(raw) != end + SIG_SIZE:
        raise TokenError("malformed")
    payload, sig = raw[:end], raw[end:]
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    for key in [public_key] if public_key else keyring().verifiers():
        try:
            key.verify(der, payload, ec.ECDSA(hashes.SHA256()))
            break
        except InvalidSignature:
            continue
    else:
        raise TokenError("signature")
    _v, raw_id, until, days, year = FIXED.unpack(payload[:FIXED.size])
    commune = int.from_bytes(payload[17:20], "big")
    flags = payload[20]
    valid_until = datetime.fromtimestamp(until, timezone.utc)
    if check_expiry and (now or clock.utcnow()) > valid_until:
        raise TokenError("expired")
    return TokenData(
        token_id=raw_id.hex(), valid_until=valid_until, travel_date=EPOCH + timedelta(days=days),
        birth_year=year, dest_commune_code=f"{commune:05d}" if commune else None,
        vaccination=VACCINATION[flags & 3], symptoms=bool(flags & 4), on_behalf=bool(flags & 8),
        id_last4=payload[21:25].decode("ascii", "replace"),
        name=payload[HEADER_SIZE:end].decode("ascii", "replace"))

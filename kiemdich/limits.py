"""Who a rate limit counts: the client's address, its device, and what happens when Redis is away.

Travellers at a checkpoint reach the server through one or a few carrier (CGNAT) addresses, so a
limit per address alone makes the crowd share one budget. The public limits therefore count twice:
per device (the address plus a device cookie the server hands out with any page; a form's one-time
key stands in for a browser that keeps no cookie) with the ceiling one honest phone needs, and per
address with a ceiling sized for a crowd. A client that keeps its cookie meets the first; one that
throws it away (or invents one-time keys) still meets the second.

The device cookie is random and signed, read only here, never stored: it identifies a browser to
the limiter and nothing else.
"""
import hashlib
import hmac
import logging
import re
import secrets

from flask import current_app, request

DEVICE_COOKIE = "kd_device"
_DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{22}\.[0-9a-f]{16}$")
_NONCE_RE = re.compile(r"^[0-9a-f]{16}$")
log = logging.getLogger("kiemdich.limits")


def client_address() -> str:
    """The client's address: REMOTE_ADDR, which ProxyFix (KIEMDICH_PROXY_HOPS) has already set to
    the address the trusted proxies saw."""
    return request.remote_addr or "unknown"


def _signature(device: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"device:" + device.encode(), hashlib.sha256).hexdigest()[:16]


def new_device_cookie() -> str:
    device = secrets.token_urlsafe(16)
    return f"{device}.{_signature(device)}"


def device_id() -> str | None:
    """The device named by a valid cookie; None when there is none or it was not signed here."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    if not _DEVICE_RE.fullmatch(value):
        return None
    device, signature = value.split(".")
    return device if hmac.compare_digest(signature, _signature(device)) else None


def per_device() -> str:
    """Limit key of one device: address + device cookie; without a cookie, the address's shared
    bucket (what every limit was before devices were told apart)."""
    return f"{client_address()}|{device_id() or '-'}"


def per_device_or_form() -> str:
    """As per_device, with the declaration form's one-time key standing in for a missing cookie
    (in-app browsers opened from a QR scanner may keep none)."""
    device = device_id()
    if device is None:
        nonce = request.form.get("nonce", "")
        device = f"form:{nonce}" if _NONCE_RE.fullmatch(nonce) else "-"
    return f"{client_address()}|{device}"


def config_rate(name: str):
    """A limit read from the configuration at request time (tests and operators may change it)."""
    return lambda: current_app.config[name]


def _hand_out_device_cookie(response):
    """Every page given to a browser without a device cookie carries a new one."""
    if (response.mimetype == "text/html" and request.endpoint != "static"
            and device_id() is None):
        response.set_cookie(DEVICE_COOKIE, new_device_cookie(), max_age=365 * 86400, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


class _StorageWatcher(logging.Handler):
    """Flask-Limiter switches to its in-memory fallback when Redis stops answering, and back when
    it answers again, and says so only through its logger. This turns those two records into one
    warning each (the library's own INFO "recovered" is invisible at the default level) and counts
    the fallbacks for /metrics."""

    FALLBACK = "falling back to in-memory storage"
    RECOVERED = "storage recovered"

    def emit(self, record):
        message = record.getMessage()
        if self.FALLBACK in message:
            from .ops import metrics

            metrics.RATELIMIT_FALLBACKS.inc()
            log.warning("Redis unreachable: rate limits are counted per process until it answers again")
        elif self.RECOVERED in message:
            log.warning("Redis answers again: rate limits are shared across processes again")
        elif record.levelno >= logging.WARNING:
            log.log(record.levelno, "flask-limiter: %s", message)


def init_app(app) -> None:
    app.after_request(_hand_out_device_cookie)
    library = logging.getLogger("flask-limiter")
    # Alembic's logging.fileConfig (flask db upgrade in the same process, as the tests do) disables
    # every logger that exists at that moment; these two must keep speaking.
    library.disabled = log.disabled = False
    if not any(isinstance(h, _StorageWatcher) for h in library.handlers):
        library.addHandler(_StorageWatcher())
        library.setLevel(logging.INFO)
        library.propagate = False  # its records are re-told by the watcher, once
    if not log.handlers and not logging.getLogger().handlers:
        # Under gunicorn nothing configures logging: give these lines a place in its error log.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def storage_dead() -> bool:
    """True while the limiter counts in memory because Redis did not answer."""
    from .extensions import limiter

    return bool(getattr(limiter, "_storage_dead", False))

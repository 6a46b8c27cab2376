"""Drawing QR codes (segno.make_qr's symbols, via qrmask) and the public addresses they carry."""
import io
from functools import lru_cache

import segno
from flask import current_app, request
from markupsafe import Markup

from kiemdich import qrmask

MAX_PERSONAL_VERSION = 10  # readable when printed 5x5 cm (DESIGN.md, "QR codes")


def public_base() -> str:
    """https://host of the deployment: KIEMDICH_PUBLIC_URL, else the address of this request."""
    return current_app.config.get("KIEMDICH_PUBLIC_URL") or request.url_root.rstrip("/")


def personal_url(token: str, base: str | None = None) -> str:
    """The traveller's personal link; the token is in the fragment, never sent to a server."""
    return f"{base or public_base()}/q#{token}"


def checkpoint_url(code: str, base: str | None = None) -> str:
    return f"{base or public_base()}/c/{code}"


def make(content: str) -> segno.QRCode:
    """A regular QR code at error correction M at least (segno raises it when that costs nothing).

    Exactly segno.make_qr(content, error="m"), same version, level and mask, but qrmask scores
    the 8 masks ~15x faster: ~2 ms instead of ~13 ms for a personal link (bench/qr_mask.py)."""
    return qrmask.make_qr(content, error="m")


@lru_cache(maxsize=2048)
def cached(content: str) -> segno.QRCode:
    """make(), once per content: a token's QR never changes, and drawing it is still a few ms of a
    status answer. Per process; a QR code is ~1 KB."""
    return make(content)


@lru_cache(maxsize=2048)
def cached_svg(content: str, label: str = "") -> Markup:
    """svg_inline(cached(content)), drawn once per content and label."""
    return svg_inline(cached(content), label)


def svg_inline(qr: segno.QRCode, label: str = "") -> Markup:
    """SVG for embedding in a page: sized by CSS (class "qr"), white quiet zone included."""
    return Markup(qr.svg_inline(scale=1, border=4, dark="#000", light="#fff", svgclass="qr",
                                lineclass=None, omitsize=True, title=label or None))


def svg_file(qr: segno.QRCode, label: str = "") -> bytes:
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=10, border=4, dark="#000", light="#fff", title=label or None,
            xmldecl=True)
    return out.getvalue()


def png_bytes(qr: segno.QRCode, min_pixels: int = 1800, dpi: int = 300) -> bytes:
    """A PNG at least `min_pixels` wide: 1800 px at 300 dpi prints 15 cm sharp."""
    modules = qr.symbol_size(scale=1, border=4)[0]
    out = io.BytesIO()
    qr.save(out, kind="png", scale=-(-min_pixels // modules), border=4, dpi=dpi)
    return out.getvalue()

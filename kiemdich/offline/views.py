"""The service worker at /sw.js (scope "/"), the offline page, the manifest and the outbox's session.

Pages a role needs offline register here (SHELL, ASSETS); base.html hands the list to the
service worker, which caches them for that role only, so a traveller never downloads the
checkpoint's QR decoder.
"""
import hashlib
import json
import re
from functools import wraps
from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..extensions import limiter

bp = Blueprint("offline", __name__)

# role -> endpoints of the pages kept for offline use (each view is decorated with @offline_page)
SHELL: dict[str, list[str]] = {"checkpoint": ["scan.scan_page"]}
# role -> files under static/ and other URLs that role's pages need offline
ASSETS: dict[str, list[str]] = {
    "checkpoint": ["js/scan.js", "vendor/qr-scanner.umd.min.js", "vendor/qr-scanner-worker.js",
                   "/khoa-cong-khai.json", "/quy-tac.json"],
}
# role -> endpoint the installed app opens on (else the role's home)
START: dict[str, str] = {"checkpoint": "scan.scan_page"}
_VERSION_KEY = "kiemdich.sw_version"


def offline_page(view):
    """Mark a page the service worker may keep for offline use (it checks this header)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        response = current_app.make_response(view(*args, **kwargs))
        response.headers["X-Offline-Page"] = "1"
        return response

    return wrapped


def offline_urls(role: str | None) -> list[str]:
    """What the service worker should cache for a signed-in role: its pages, then their assets."""
    urls = [url_for(endpoint) for endpoint in SHELL.get(role or "", [])]
    for asset in ASSETS.get(role or "", []):
        urls.append(asset if asset.startswith("/") else url_for("static", filename=asset))
    return urls


def _static_version() -> str:
    """A hash of every static file: any change gives the service worker new caches."""
    cached = current_app.extensions.get(_VERSION_KEY)
    if cached and not current_app.debug:
        return cached
    digest = hashlib.sha256()
    root = Path(current_app.static_folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".installed"):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    version = digest.hexdigest()[:12]
    current_app.extensions[_VERSION_KEY] = version
    return version


@bp.get("/sw.js")
@limiter.limit("300 per minute")
def service_worker():
    """The hand-written service worker, its cache version stamped in."""
    source = (Path(current_app.static_folder) / "sw.js").read_text(encoding="utf-8")
    # The files it precaches under the versioned URLs the pages use: already in the HTTP cache.
    source = re.sub(r'"/static/([^"?]+)"', lambda m: json.dumps(url_for("static", filename=m.group(1))), source)
    source = source.replace("__VERSION__", _static_version())
    response = current_app.response_class(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # browsers check for a new worker on every visit
    response.headers["Service-Worker-Allowed"] = "/"
    # ... so that check must be cheap: a validator over the very bytes served lets it end in a 304.
    # Weak, because Flask-Compress appends ":gzip" to a strong one and the browser would then
    # send back a tag this view never matches (the body would be compressed only to be dropped).
    response.set_etag(hashlib.sha256(source.encode()).hexdigest()[:20], weak=True)
    return response.make_conditional(request)


@bp.get("/ngoai-tuyen")
@limiter.limit("120 per minute")
def offline():
    """Shown by the service worker for a page that is neither reachable nor kept."""
    response = current_app.make_response(render_template("offline/offline.html"))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
@limiter.limit("120 per minute")
def manifest():
    """The web app manifest, opening on the signed-in role's main screen."""
    data = json.loads((Path(current_app.static_folder) / "manifest.webmanifest").read_text(encoding="utf-8"))
    data["id"] = "/"
    for icon in data.get("icons", []):  # the same versioned URLs as the pages': one download each
        if icon["src"].startswith("/static/"):
            icon["src"] = url_for("static", filename=icon["src"].removeprefix("/static/"))
    if current_user.is_authenticated:
        from ..accounts.auth import home_url

        endpoint = START.get(current_user.role)
        data["start_url"] = url_for(endpoint) if endpoint else home_url(current_user)
    response = current_app.response_class(json.dumps(data, ensure_ascii=False), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")
    return response


@bp.get("/dong-bo/phien")
@limiter.limit("120 per minute")
def session_info():
    """Who is signed in and a fresh CSRF token, for replaying the outbox (401 when signed out)."""
    if not current_user.is_authenticated:
        response = jsonify({"user": None})
        response.status_code = 401
    else:
        response = jsonify({"user": current_user.username, "csrf": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def offline_context():
    role = current_user.role if current_user.is_authenticated else None
    if not role:
        return {"offline_urls": []}
    # The same list for every page of a role (versioned static URLs change only with a new
    # deployment): built once per process, not with four url_for calls on every render.
    memo = current_app.extensions.setdefault("kiemdich.offline_urls", {})
    key = (role, request.script_root)
    if key not in memo or current_app.debug:
        memo[key] = offline_urls(role)
    return {"offline_urls": memo[key]}

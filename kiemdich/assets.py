"""Static files under versioned URLs (`?v=<hash of the file>`), cached by browsers for a year.

Every `url_for("static", ...)` gets the file's content hash, so a page names exactly the version
it was rendered with and a changed file gets a new URL. A request whose `v` is the file's current
hash is answered `immutable`: a phone on a slow line never asks for it again (no revalidation
round trip per file per page, which matters where no service worker runs, e.g. in-app browsers
opened from a QR scanner). Unversioned or stale URLs keep Flask's `no-cache`.
"""
import hashlib
from pathlib import Path

from flask import Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface

YEAR = 365 * 24 * 3600
_EXT_KEY = "kiemdich.static_hashes"


def file_hash(filename: str) -> str | None:
    """The first 10 hex digits of the SHA-256 of static/<filename> (None if there is no such file).
    Cached per process; in debug it follows the file's modification time."""
    cache = current_app.extensions.setdefault(_EXT_KEY, {})
    root = Path(current_app.static_folder).resolve()
    path = (root / filename).resolve()
    if root not in path.parents or not path.is_file():
        return None
    stamp = path.stat().st_mtime_ns if current_app.debug else 0
    hit = cache.get(filename)
    if hit and hit[0] == stamp:
        return hit[1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    cache[filename] = (stamp, digest)
    return digest


def _version_static_urls(endpoint: str, values: dict) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        digest = file_hash(values["filename"])
        if digest:
            values["v"] = digest


def _cache_static(response):
    if request.endpoint == "static" and response.status_code in (200, 304):
        version = request.args.get("v")
        if version and version == file_hash(request.view_args.get("filename", "")):
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


class _SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie sessions, left alone on static files: Flask-Login reads the session after
    every request, which would add `Vary: Cookie`, and a browser keys its cache on that header, so
    each refresh of a staff member's cookie would throw the year-long cached files away."""

    def save_session(self, app, session, response):
        if request.endpoint == "static":
            return None
        return super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.url_defaults(_version_static_urls)
    app.after_request(_cache_static)
    app.session_interface = _SessionInterface()

"""What every response shares: security headers, caching hints, error pages, template helpers."""
from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf

from . import clock
from .extensions import htmx
from .text import mask_id

# Strict: no inline script or style anywhere, so an injected tag cannot run.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def page_or_fragment(page: str, fragment: str, **context):
    """The full page, or only the fragment it includes when htmx asks (Vary is set below)."""
    return render_template(fragment if htmx else page, **context)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
    if response.mimetype == "text/html":
        # Pages may differ for htmx requests; caches must key on it.
        response.vary.add("HX-Request")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error(status: int, title: str, message: str):
    template = "errors/_error.html" if htmx else "errors/error.html"
    return render_template(template, status=status, title=title, message=message), status


def _compress_client_errors(response):
    """Compress 4xx answers too: Flask-Compress only compresses 2xx, and a 422 form fragment
    (the answer to every mistake in a form) is the htmx response travellers get most often."""
    from .extensions import compress

    if 400 <= response.status_code < 500 and not response.direct_passthrough:
        status = response.status
        response.status_code = 200
        response = compress.after_request(response)
        response.status = status
    return response


def init_app(app: Flask) -> None:
    """Register headers, error pages and template globals."""
    app.after_request(_security_headers)
    app.after_request(_compress_client_errors)  # runs before Flask-Compress's own hook

    @app.errorhandler(403)
    def forbidden(_e):
        return _error(403, _("Access denied"), _("Your account does not have access to this page."))

    @app.errorhandler(404)
    def not_found(_e):
        return _error(404, _("Page not found"), _("The address is wrong or the page no longer exists."))

    @app.errorhandler(405)
    def not_allowed(_e):
        return _error(405, _("Not allowed"), _("This action cannot be done this way."))

    @app.errorhandler(413)
    def too_large(_e):
        mb = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return _error(413, _("File too large"), _("The file is larger than %(mb)s MB.", mb=mb))

    @app.errorhandler(429)
    def too_many(_e):
        return _error(429, _("Too many requests"), _("Please wait a moment and try again."))

    @app.errorhandler(CSRFError)
    def csrf_failed(_e):
        return _error(400, _("Session expired"),
                      _("The form has expired. Please reload the page and try again."))

    @app.errorhandler(500)
    def server_error(_e):
        return _error(500, _("Something went wrong"),
                      _("The error has been recorded. Please try again in a few minutes."))

    # Globals, not a context processor, so that imported macros see them too.
    app.jinja_env.globals.update(csrf_token_value=generate_csrf, mask_id=mask_id)

    @app.context_processor
    def language():
        return {"lang": _current_lang()}

    @app.template_filter("localtime")
    def localtime(moment, fmt="%H:%M %d/%m/%Y"):
        return clock.local(moment).strftime(fmt) if moment else ""


def _current_lang() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "vi")


def set_language(lang: str):
    """Response that remembers the chosen language and goes back where the user was."""
    from flask import redirect

    target = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else "/"
    response = redirect(target)
    response.set_cookie("lang", lang if lang in ("vi", "en") else "vi", max_age=365 * 86400,
                        samesite="Lax", httponly=True)
    return response

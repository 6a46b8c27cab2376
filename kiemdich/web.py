"""What every response shares: security headers, caching hints, error pages, template helpers."""
from flask import Flask, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, ValidationError

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


def _who_may(app: Flask) -> str:
    """On a page refused to the user's role: which roles it is for (an admin sent to
    /checkpoints/new learns that a supervisor creates checkpoints). "" otherwise."""
    from flask_login import current_user

    from .accounts.forms import ROLE_CHOICES

    roles = getattr(app.view_functions.get(request.endpoint or ""), "roles", ())
    if not roles or not current_user.is_authenticated or current_user.role in roles:
        return ""
    names = ", ".join(str(label) for role, label in ROLE_CHOICES if role in roles)
    return _("This page is for: %(roles)s. Ask someone with such an account to do it.", roles=names)


def page_or_fragment(page: str, fragment: str, **context):
    """The full page, or only the fragment it includes when htmx asks (Vary is set below)."""
    return render_template(fragment if htmx else page, **context)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
    if current_app.config["SESSION_COOKIE_SECURE"]:
        # Cookies that only travel over HTTPS are worth little if the first request of a visit can
        # be plain http: browsers keep to https for this host for a year (ignored over plain http).
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
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


class DatabaseId(IntegerConverter):
    """`<int:...>` bounded to what an integer column holds: /x/99999999999999999999 is a 404, not a
    database error (PostgreSQL "integer out of range", SQLite OverflowError)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str):
        if len(value) > 10:  # int() of thousands of digits raises ValueError, not a 404
            raise ValidationError()
        return super().to_python(value)


def _wtforms_in_vietnamese():
    """WTForms' own messages ("Not a valid date value.") from the app's catalogue, which translates
    them (kiemdich/forms_i18n.py): WTForms ships no Vietnamese. Flask-WTF reads this attribute."""
    from flask_babel import get_translations

    request.wtforms_translations = get_translations()


def _refuse_nul():
    """No form field, query parameter or address ever holds a NUL character; PostgreSQL cannot store
    one ("text fields cannot contain NUL"), so it would end as a 500. Refused once, here, as a 400."""
    values = [request.path]
    for multidict in (request.args, request.form):  # the form is parsed for the CSRF check anyway
        for key, items in multidict.lists():
            values.append(key)
            values.extend(items)
    if any("\x00" in value for value in values):
        abort(400)


def init_app(app: Flask) -> None:
    """Register headers, error pages and template globals."""
    app.url_map.converters["int"] = DatabaseId  # before any blueprint adds its routes
    hops = app.config.get("KIEMDICH_PROXY_HOPS", 0)
    if hops:
        # Behind nginx / a load balancer: the client's address, scheme and host come from the
        # X-Forwarded-* headers the last `hops` proxies appended (never from what the client sent),
        # so rate limits and the audit trail see the phone, not the proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    from . import labels, limits, ops

    limits.init_app(app)
    ops.init_app(app)  # /healthz, /readyz, /metrics and the request counters
    # First of all hooks, before Flask-WTF's CSRF check (bound earlier by extensions.init_app): a
    # NUL anywhere, a CSRF token included, gets the same "cannot read the request" 400.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_nul)
    app.before_request(_wtforms_in_vietnamese)
    app.after_request(_security_headers)
    app.after_request(_compress_client_errors)  # runs before Flask-Compress's own hook

    @app.errorhandler(403)
    def forbidden(_e):
        return _error(403, _("Access denied"), _who_may(app) or _("Your account does not have access to this page."))

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

    @app.errorhandler(400)
    def bad_request(_e):
        return _error(400, _("Request not understood"),
                      _("The information sent could not be read. Please reload the page and try again."))

    @app.errorhandler(409)
    def conflict(_e):
        return _error(409, _("Not possible now"),
                      _("This can no longer be done at this step. Reload the page to see where it stands."))

    @app.errorhandler(422)
    def unprocessable(_e):
        return _error(422, _("Information not valid"),
                      _("Some of the information sent is not valid. Please check it and try again."))

    @app.errorhandler(HTTPException)
    def other_client_error(e):
        # Any other 4xx (aborts without a page of their own): still a Vietnamese page, never Werkzeug's.
        if e.code is None or not 400 <= e.code < 500:
            return e
        return _error(e.code, _("Request refused"), _("This request cannot be handled. Please go back and try again."))

    @app.errorhandler(CSRFError)
    def csrf_failed(_e):
        from .refused_posts import count_against_route_limits

        if count_against_route_limits() is not None:  # a flood without tokens meets the route's limit
            return too_many(None)
        return _error(400, _("Session expired"),
                      _("The form has expired. Please reload the page and try again."))

    @app.errorhandler(500)
    def server_error(_e):
        return _error(500, _("Something went wrong"),
                      _("The error has been recorded. Please try again in a few minutes."))

    # Globals, not a context processor, so that imported macros see them too.
    app.jinja_env.globals.update(csrf_token_value=generate_csrf, mask_id=mask_id)
    app.jinja_env.globals.update(labels.GLOBALS)  # ARRIVAL_STATUS, LIST, MEASURE... (lazy translations)

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

"""A POST refused by the CSRF check never reaches its view, where Flask-Limiter evaluates the
route's own limits (the decorator runs them when the view is called): without this, a flood
without tokens would not be counted, and would not be stopped by the route's limit."""
from flask import current_app, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_qualified_name

from .extensions import limiter


def count_against_route_limits() -> RateLimitExceeded | None:
    """Count this refused request against the limits of the view it was sent to; returns the
    breach when it goes over one (the caller answers 429 instead of 400)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not limiter.enabled or not limiter.initialized:
        return None
    if limiter.current_limits:  # the view ran and counted it already (the sign-in checks CSRF itself)
        return None
    try:
        # The limits are stored under the decorated function's qualified name, which every
        # decorator in between keeps (functools.wraps). Flask-Limiter has no public call for
        # "evaluate this route's limits now"; this is the one its decorator makes.
        limiter._check_request_limit(callable_name=get_qualified_name(view), in_middleware=False)
    except RateLimitExceeded as breach:
        return breach
    return None

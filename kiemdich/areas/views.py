"""The cascading province -> commune picker, served as HTMX fragments."""
from flask import Blueprint, current_app, request

from ..extensions import limiter
from ..web import page_or_fragment
from . import operations

bp = Blueprint("areas", __name__, url_prefix="/dia-ban")


@bp.get("/xa")
@limiter.limit("120 per minute")
def communes():
    """Communes of a province matching a search; options for the picker or a plain list page."""
    field = request.args.get("field", "commune")
    if not field.isidentifier():
        field = "commune"
    province = request.args.get(f"{field}_province") or request.args.get("tinh") or \
        current_app.config["KIEMDICH_PROVINCE"]
    query = request.args.get(f"{field}_q") or request.args.get("q", "")
    selected = set(request.args.getlist(field))
    results = operations.search_communes(query[:80], province, limit=400)  # a whole province fits
    return page_or_fragment("areas/communes.html", "areas/_commune_options.html",
                            communes=results, selected=selected, query=query,
                            provinces=operations.provinces(), province=province, field=field)

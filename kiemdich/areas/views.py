"""The cascading province -> commune picker, served as HTMX fragments."""
from flask import Blueprint, current_app, request

from ..extensions import limiter
from ..web import page_or_fragment
from . import operations
from .former import label

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
    # A whole province fits; pre-2025 names find the commune they are part of today.
    results, former = operations.search_communes_and_former(query[:80], province, limit=400)
    labels = {code: label(unit_name, former[code]) for code, unit_name in ((c.code, c.name) for c in results)
              if code in former}
    return page_or_fragment("areas/communes.html", "areas/_commune_options.html",
                            communes=results, labels=labels, selected=selected, query=query,
                            provinces=operations.provinces(), province=province, field=field)

"""The province dashboard (/tinh): the figures of a supervisor's area, charts, drill-down lists, Excel."""
import tempfile
from datetime import date, timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import role_required
from ..accounts.scope import commune_codes
from ..clock import local, today, utcnow
from ..exports import operations as exports
from ..exports.views import MIMETYPES
from ..extensions import db, htmx
from ..models import AdminUnit, Checkpoint
from ..replica import reads_replica
from . import charts
from . import figures as figs
from .forms import PeriodForm

bp = Blueprint("dashboard", __name__, url_prefix="/tinh")

DEFAULT_DAYS = 14
PAGE = 25
QUICK = (7, 14, 30)


def _filter(data):
    """The filter form, the scope it gives, the query parameters that repeat it, and whether it was valid."""
    codes = commune_codes(current_user)
    communes = list(db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(codes), AdminUnit.kind == "commune")
                                       .order_by(AdminUnit.search_name)))
    form = PeriodForm(formdata=data)
    form.area.choices = [("", _("Whole area"))] + [(u.code, u.name) for u in communes]
    valid = form.validate()
    end = (form.end.data if valid else None) or today()
    start = (form.start.data if valid else None) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end or (end - start).days >= figs.MAX_DAYS:
        form.start.errors = list(form.start.errors) + [
            _("Choose a period of at most %(n)s days, ending after it starts.", n=figs.MAX_DAYS)]
        valid, end = False, today()
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if valid:  # the fields show the period the figures are for, also on first load (no parameters)
        form.start.data, form.end.data = start, end
        form.start.raw_data = form.end.raw_data = None
    area = (form.area.data or "") if valid else ""
    scope = figs.Scope(frozenset([area] if area else codes), start, end, utcnow())
    params = {"start": start.isoformat(), "end": end.isoformat()} | ({"area": area} if area else {})
    return form, scope, params, valid, communes


def _scope_label(communes, params) -> str:
    area = params.get("area")
    if area:
        return next((u.name for u in communes if u.code == area), area)
    units = db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(current_user.area_codes))
                               .order_by(AdminUnit.search_name)).all()
    return ", ".join(u.name for u in units)


def _drill_base(params) -> str:
    return url_for("dashboard.drill") + "?" + urlencode(params)


@reads_replica
def page():
    """The dashboard page (served at /tinh by homes.supervisor, the supervisor's home)."""
    form, scope, params, valid, communes = _filter(request.args)
    data = figs.compute(scope)
    drill = _drill_base(params)
    labels = {f.key: f.label for f in figs.FIGURES}
    passages = charts.stacked_bars(
        "chart-passages", _("Passages per day"), scope.days,
        [("p_allow", labels["p_allow"], "s-allow"), ("p_refuse", labels["p_refuse"], "s-refuse"),
         ("p_quar", labels["p_quar"], "s-quar")],
        data.by_day, href=lambda d: f"{drill}&f=p_all&day={d.isoformat()}",
        note=_("The numbers are in the table below."))
    arrivals_values = {d: {"a_conf": v["a_conf"], "a_wait": v["a_exp"] - v["a_conf"]} for d, v in data.by_day.items()}
    arrivals = charts.stacked_bars(
        "chart-arrivals", _("Arrivals per day"), scope.days,
        [("a_conf", labels["a_conf"], "s-conf"), ("a_wait", _("Not yet confirmed"), "s-wait")],
        arrivals_values, href=lambda d: f"{drill}&f=a_exp&day={d.isoformat()}",
        note=_("The numbers are in the table below."))
    end = today()
    quick = [(n, urlencode({"start": (end - timedelta(days=n - 1)).isoformat(), "end": end.isoformat()}
                           | ({"area": params["area"]} if "area" in params else {}))) for n in QUICK]
    context = {"form": form, "scope": scope, "data": data, "params": params, "drill": drill, "labels": labels,
               "passage_keys": figs.PASSAGE_KEYS, "arrival_keys": figs.ARRIVAL_KEYS,
               "chart_passages": passages, "chart_arrivals": arrivals, "quick": quick,
               "scope_label": _scope_label(communes, params), "multi": len(communes) > 1,
               "day_rows": [(d.strftime("%d/%m"), v, f"&day={d.isoformat()}") for d, v in data.by_day.items()],
               "cp_rows": [(cp.name, v, f"&cp={cp.code}") for cp, v in data.by_checkpoint],
               "unit_rows": [(u.name, v, f"&commune={u.code}") for u, v in data.by_commune]}
    return render_template("dashboard/index.html", **context), 200 if valid else 422


def _day_arg(scope) -> date | None:
    raw = request.args.get("day")
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        abort(404)
    if not scope.start <= day <= scope.end:
        abort(404)
    return day


@bp.get("/ds")
@role_required("supervisor")
@reads_replica
def drill():
    """The list behind a figure (a whole page, or the next rows for the "more" button)."""
    form, scope, params, valid, communes = _filter(request.args)
    key = request.args.get("f", "")
    if not valid or key not in figs.BY_KEY:
        abort(404)
    figure = figs.BY_KEY[key]
    day = _day_arg(scope)
    checkpoint = None
    if request.args.get("cp"):
        checkpoint = db.session.scalar(select(Checkpoint).where(Checkpoint.code == request.args["cp"]))
        if checkpoint is None or checkpoint.commune_code not in scope.communes:
            abort(404)
    commune = request.args.get("commune") or None
    if commune is not None and commune not in scope.communes:
        abort(404)
    try:
        stmt = figs.drill(key, scope, day=day, checkpoint_id=checkpoint.id if checkpoint else None, commune=commune)
    except KeyError:
        abort(404)
    try:
        page_no = max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        page_no = 1
    rows = figs.items(figure.base, stmt, (page_no - 1) * PAGE, PAGE + 1)
    more = None
    if len(rows) > PAGE:
        rows = rows[:PAGE]
        query = {k: v for k, v in request.args.items() if k != "page"} | {"page": page_no + 1}
        more = url_for("dashboard.drill") + "?" + urlencode(query)
    context = {"figure": figure, "items": rows, "more": more, "base": figure.base}
    if htmx and page_no > 1:
        return render_template("dashboard/_drill_items.html", **context)
    unit = db.session.get(AdminUnit, commune) if commune else None
    context |= {"total": figs.count(stmt), "scope": scope, "day": day, "checkpoint": checkpoint, "unit": unit,
                "back": url_for("homes.supervisor") + "?" + urlencode(params),
                "scope_label": _scope_label(communes, params)}
    return render_template("dashboard/drill.html", **context)


def _export_rows(data: figs.Figures, labels: dict):
    keys = [f.key for f in figs.FIGURES]
    for day, values in data.by_day.items():
        yield [day.strftime("%d/%m/%Y")] + [values[k] for k in keys]
    yield [_("Total")] + [data.totals[k] for k in keys]
    yield []
    yield [_("By checkpoint")] + [str(labels[k]) for k in figs.PASSAGE_KEYS]
    for checkpoint, values in data.by_checkpoint:
        yield [checkpoint.name] + [values.get(k, 0) for k in figs.PASSAGE_KEYS]
    yield []
    yield [_("By commune / ward")] + [str(labels[k]) for k in figs.ARRIVAL_KEYS]
    for unit, values in data.by_commune:
        yield [unit.name] + [values.get(k, 0) for k in figs.ARRIVAL_KEYS]


@bp.post("/xuat")
@role_required("supervisor")
@reads_replica
def export():
    """The dashboard's figures as .xlsx (the export writer of the lists), audited."""
    form, scope, params, valid, communes = _filter(request.form)
    if not valid:
        abort(422)
    data = figs.compute(scope)
    labels = {f.key: str(f.label) for f in figs.FIGURES}
    title = [_("CHECKPOINT CONTROL FIGURES"),
             _("Area: %(area)s", area=_scope_label(communes, params)),
             _("From %(start)s to %(end)s", start=scope.start.strftime("%d/%m/%Y"), end=scope.end.strftime("%d/%m/%Y")),
             _("Exported at %(when)s by %(user)s", when=local(utcnow()).strftime("%H:%M %d/%m/%Y"),
               user=current_user.username)]
    header = [_("Day")] + [labels[f.key] for f in figs.FIGURES]
    tmp = tempfile.TemporaryFile()
    exports.export(tmp, "xlsx", title, header, _export_rows(data, labels), action="export.dashboard",
                   user=current_user, detail=f"dashboard {params}", area_code=params.get("area"),
                   widths=[30] + [12] * len(figs.FIGURES))
    db.session.commit()
    tmp.seek(0)
    return send_file(tmp, mimetype=MIMETYPES["xlsx"], as_attachment=True, max_age=0,
                     download_name=f"so-lieu_{scope.start:%Y%m%d}-{scope.end:%Y%m%d}.xlsx")

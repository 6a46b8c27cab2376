"""Supervisors' editors: epidemic levels (/tinh/cap-do) and monitoring rule versions (/tinh/quy-tac)."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import role_required
from ..areas import operations as areas
from ..clock import today
from ..extensions import db, htmx
from ..models import Instruction, MonitoringRule
from ..web import page_or_fragment
from . import operations as ops
from .forms import (LEVEL_LABELS, MEASURE_LABELS, VACCINATION_LABELS, LevelForm, LineForm, MetaForm, PreviewForm,
                    PublishForm)
from .plan import rule_version_in_force

bp = Blueprint("rules", __name__, url_prefix="/tinh")


def _labels() -> dict:
    return {"LEVEL": LEVEL_LABELS, "MEASURE": MEASURE_LABELS, "VACCINATION": VACCINATION_LABELS,
            "INSTRUCTION": dict(db.session.execute(select(Instruction.code, Instruction.label)).all())}


def _require_editor():
    if not ops.can_edit_policy(current_user):
        abort(403)


def _attach(form, err: ops.PolicyError, default: str):
    field = getattr(form, err.field, None) or getattr(form, default)
    field.errors = list(field.errors) + [str(err)]


# --- Epidemic levels -----------------------------------------------------------------------------

def _levels_page(form: LevelForm, status: int = 200, area_errors=()):
    province = request.form.get("area_province") or current_app.config["KIEMDICH_PROVINCE"]
    selected = [request.form["area"]] if request.form.get("area") else []
    on = today()
    history = [(unit, entries, ops.entry_in_force(entries, on)) for unit, entries in ops.level_history()]
    return render_template("rules/levels.html", form=form, history=history, today=on,
                           can_edit=ops.can_edit_policy(current_user), provinces=areas.provinces(),
                           province=province, communes=areas.search_communes("", province, 400),
                           selected=selected, area_errors=area_errors, **_labels()), status


@bp.get("/cap-do")
@role_required("supervisor")
def levels():
    """Epidemic levels of provinces and communes: the one in force today and the history."""
    form = LevelForm(formdata=None)
    form.effective_from.data = today()
    return _levels_page(form)


@bp.post("/cap-do")
@role_required("supervisor")
def set_level():
    """Record a level for a province or commune from a date (province-wide supervisors only)."""
    _require_editor()
    form = LevelForm()
    area = request.form.get("area") or request.form.get("area_province") or ""
    if not form.validate():
        return _levels_page(form, 422)
    try:
        entry = ops.set_level(area, form.level.data, form.effective_from.data, form.effective_to.data,
                              form.note.data or "", by=current_user)
    except ops.PolicyError as err:
        db.session.rollback()
        if err.field == "area":
            return _levels_page(form, 422, area_errors=[str(err)])
        _attach(form, err, "level")
        return _levels_page(form, 422)
    db.session.commit()
    flash(_("%(area)s: %(level)s from %(day)s.", area=entry.area.name, level=LEVEL_LABELS[entry.level],
            day=entry.effective_from.strftime("%d/%m/%Y")), "success")
    return redirect(url_for(".levels"))


# --- Rule versions ------------------------------------------------------------------------------

@bp.get("/quy-tac")
@role_required("supervisor")
def rules():
    """The rule sets: drafts, the one in force today, scheduled and superseded ones."""
    on = today()
    return render_template("rules/index.html", versions=ops.versions(), in_force=rule_version_in_force(on), today=on,
                           can_edit=ops.can_edit_policy(current_user))


def _version_or_404(number: int) -> ops.Version:
    return ops.version(number) or abort(404)


def _version_page(number: int, *, meta=None, publish=None, status: int = 200):
    v = _version_or_404(number)
    on = today()
    in_force = rule_version_in_force(on)
    if meta is None:
        meta = MetaForm(formdata=None, name=v.name, source=v.source)
    if publish is None:
        publish = PublishForm(formdata=None, effective_from=max(on, v.effective_from) if not v.published else v.effective_from)
    preview = PreviewForm(formdata=None, arrival=on)
    return render_template("rules/version.html", v=v, lines=ops.lines(number), state=v.state(on, in_force),
                           in_force=in_force, can_edit=ops.can_edit_policy(current_user) and not v.published,
                           can_copy=ops.can_edit_policy(current_user), meta=meta, publish=publish, preview=preview,
                           **_labels()), status


@bp.get("/quy-tac/<int:number>")
@role_required("supervisor")
def version(number: int):
    """One rule set: its lines, and for a draft the editing, preview and publishing forms."""
    return _version_page(number)


@bp.post("/quy-tac/<int:number>/sao-chep")
@role_required("supervisor")
def copy(number: int):
    """Copy a rule set into a new draft version."""
    _require_editor()
    _version_or_404(number)
    new = ops.copy_version(number, by=current_user, today=today())
    db.session.commit()
    flash(_("Draft version %(n)s created from version %(m)s.", n=new, m=number), "success")
    return redirect(url_for(".version", number=new))


def _line_or_404(number: int, line_id: int) -> MonitoringRule:
    rule = db.session.get(MonitoringRule, line_id)
    if rule is None or rule.version != number:
        abort(404)
    return rule


def _line_form(rule: MonitoringRule, formdata=None) -> LineForm:
    form = LineForm(formdata=formdata, measure=rule.measure, days=rule.days, after=rule.self_monitoring_days_after,
                    test_days=", ".join(str(d) for d in rule.test_days or []), needs_approval=rule.needs_approval,
                    instruction_code=rule.instruction_code)
    codes = db.session.scalars(select(Instruction).order_by(Instruction.code)).all()
    form.instruction_code.choices = [("", _("None"))] + [(i.code, f"{i.code} – {i.label}") for i in codes]
    return form


@bp.get("/quy-tac/<int:number>/dong/<int:line_id>/sua")
@role_required("supervisor")
def edit_line(number: int, line_id: int):
    """The form for one line of a draft (swapped in place of the line)."""
    _require_editor()
    rule = _line_or_404(number, line_id)
    if rule.published:
        abort(404)
    return page_or_fragment("rules/line.html", "rules/_line_form.html", rule=rule, form=_line_form(rule),
                            v=_version_or_404(number), **_labels())


@bp.post("/quy-tac/<int:number>/dong/<int:line_id>")
@role_required("supervisor")
def save_line(number: int, line_id: int):
    """Save one line of a draft."""
    _require_editor()
    rule = _line_or_404(number, line_id)
    form = _line_form(rule, request.form)
    context = {"rule": rule, "form": form, "v": _version_or_404(number), **_labels()}
    if not form.validate():
        return page_or_fragment("rules/line.html", "rules/_line_form.html", **context), 422
    try:
        ops.update_line(rule, measure=form.measure.data, days=form.days.data, after=form.after.data,
                        test_days=ops.parse_test_days(form.test_days.data or ""),
                        needs_approval=form.needs_approval.data, instruction_code=form.instruction_code.data,
                        by=current_user)
    except ops.PolicyError as err:
        db.session.rollback()
        _attach(form, err, "measure")
        rule = _line_or_404(number, line_id)
        return page_or_fragment("rules/line.html", "rules/_line_form.html", **context | {"rule": rule}), 422
    db.session.commit()
    if htmx:
        return render_template("rules/_line.html", rule=rule, editable=True, v=context["v"], **_labels())
    return redirect(url_for(".version", number=number))


def _change_version(number: int, form, slot: str, default_field: str, change, done: str):
    """Validate a version form, run `change(form)`, and show the page again with the error, or go back to it."""
    _require_editor()
    if not form.validate():
        return _version_page(number, status=422, **{slot: form})
    try:
        change(form)
    except ops.PolicyError as err:
        db.session.rollback()
        _attach(form, err, default_field)
        return _version_page(number, status=422, **{slot: form})
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".version", number=number))


@bp.post("/quy-tac/<int:number>/thong-tin")
@role_required("supervisor")
def save_meta(number: int):
    """Rename a draft and record the decision it implements."""
    return _change_version(number, MetaForm(), "meta", "name", lambda f: ops.update_meta(
        number, name=f.name.data, source=f.source.data or "", by=current_user), _("Saved."))


@bp.post("/quy-tac/<int:number>/cong-bo")
@role_required("supervisor")
def publish(number: int):
    """Publish a draft with its effective dates; routed arrivals keep the version they were given."""
    form = PublishForm()
    day = form.effective_from.data.strftime("%d/%m/%Y") if form.effective_from.data else ""
    return _change_version(number, form, "publish", "effective_from", lambda f: ops.publish(
        number, f.effective_from.data, f.effective_to.data, by=current_user),
        _("Version %(n)s is published from %(day)s.", n=number, day=day))


@bp.get("/quy-tac/<int:number>/xem-truoc")
@role_required("supervisor")
def preview(number: int):
    """What a given traveller would get under this version (and under the version in force), unsaved."""
    v = _version_or_404(number)
    form = PreviewForm(formdata=request.args)
    context = {"v": v, "form": form, **_labels()}
    if not form.validate():
        return page_or_fragment("rules/preview.html", "rules/_preview.html", result=None, **context), 422
    result = ops.preview(number, form.level.data, form.doses.data, form.last_dose.data, form.recovered.data,
                         form.arrival.data)
    return page_or_fragment("rules/preview.html", "rules/_preview.html", result=result, **context)

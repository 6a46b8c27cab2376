"""Revealing a masked ID number (audited), the privacy notice editor and data-subject requests (admins)."""
import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.auth import role_required
from ..clock import utcnow
from ..declarations.operations import latest_notice
from ..extensions import db
from ..models import AdminUnit, Declaration, PrivacyNotice
from ..web import page_or_fragment
from . import operations as ops
from .forms import EraseForm, NoticeForm, SearchForm

bp = Blueprint("privacy", __name__)


@bp.post("/hien-so/<code>")
@role_required("supervisor", "commune", "checkpoint")
def reveal(code: str):
    """Show one full ID number to a user whose scope covers the traveller; written to the audit trail."""
    decl = db.session.scalar(select(Declaration).where(Declaration.code == code[:16]))
    if decl is None or decl.deidentified_at is not None or not ops.can_see_declaration(current_user, decl):
        abort(404)
    number = ops.reveal(current_user, decl)
    db.session.commit()
    return page_or_fragment("privacy/revealed.html", "privacy/_revealed.html", decl=decl, number=number)


@bp.route("/quan-tri/thong-bao-du-lieu", methods=["GET", "POST"])
@role_required("admin")
def notice():
    """The privacy notice shown before declaring: read it, publish a new version."""
    current = latest_notice()
    form = NoticeForm()
    status = 200
    if request.method == "GET" and current is not None:
        form.text.data = current.text
    if form.validate_on_submit():
        try:
            published = ops.publish_notice(form.version.data, form.text.data, current_user)
        except ops.PrivacyError as err:
            db.session.rollback()
            form.version.errors.append(str(err))
            status = 422
        else:
            db.session.commit()
            flash(_("Version %(v)s of the privacy notice is published.", v=published.version), "success")
            return redirect(url_for(".notice"))
    elif form.is_submitted():
        status = 422
    history = db.session.scalars(select(PrivacyNotice).order_by(PrivacyNotice.published_at.desc(),
                                                                PrivacyNotice.id.desc())).all()
    return render_template("privacy/notice.html", form=form, current=current, history=history), status


def _by_codes(codes) -> list[Declaration]:
    codes = [c[:16] for c in codes if c][:200]
    if not codes:
        return []
    return list(db.session.scalars(select(Declaration).where(Declaration.code.in_(codes))
                                   .order_by(Declaration.created_at.desc())))


def _results_page(search: SearchForm, found, erase_form: EraseForm, status: int = 200):
    units = dict(db.session.execute(select(AdminUnit.code, AdminUnit.name).where(
        AdminUnit.code.in_({d.dest_commune_code for d in found if d.dest_commune_code}))).all())
    return render_template("privacy/requests.html", search=search, found=found, erase=erase_form,
                           units=units), status


@bp.route("/quan-tri/yeu-cau-du-lieu", methods=["GET", "POST"])
@role_required("admin")
def requests():
    """Data-subject requests: find a person's records (a POST, so ID numbers never reach a URL or log)."""
    search = SearchForm(formdata=request.form if request.method == "POST" else None)
    found = []
    if request.method == "POST":
        if not search.validate():
            return _results_page(search, [], EraseForm(formdata=None), 422)
        found = ops.find_person(id_number=search.id_number.data or "", phone=search.phone.data or "",
                                name=search.name.data or "", birth_year=search.birth_year.data)
        kinds = [k for k in ("id_number", "phone", "name") if getattr(search, k).data]
        ops.record_search(current_user, kinds, found)
        db.session.commit()
    return _results_page(search, found, EraseForm(formdata=None))


@bp.post("/quan-tri/yeu-cau-du-lieu/xuat")
@role_required("admin")
def export():
    """Everything stored about the chosen records, as a JSON file; audited."""
    found = _by_codes(request.form.getlist("code"))
    if not found:
        abort(422)
    data = ops.person_export(found, current_user)
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    stamp = utcnow().strftime("%Y%m%d")
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="du-lieu-ca-nhan_{stamp}.json"', "Cache-Control": "no-store"})


@bp.post("/quan-tri/yeu-cau-du-lieu/xoa")
@role_required("admin")
def erase():
    """De-identify the chosen records at the person's request, with the reason; audited."""
    found = _by_codes(request.form.getlist("code"))
    form = EraseForm()
    search = SearchForm(formdata=None)
    if not found:
        form.reason.errors = [_("Choose the records to erase.")]
        return _results_page(search, [], form, 422)
    if not form.validate():
        return _results_page(search, found, form, 422)
    try:
        count = ops.erase(found, form.reason.data, current_user)
    except ops.PrivacyError as err:
        db.session.rollback()
        form.reason.errors = [str(err)]
        return _results_page(search, found, form, 422)
    db.session.commit()
    flash(_("%(n)s records de-identified.", n=count), "success")
    return redirect(url_for(".requests"))

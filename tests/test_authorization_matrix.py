"""Every route of the URL map, as anonymous and as every role, with objects inside and outside the
role's scope and guessed neighbouring ids and codes: the status each one must get.

MATRIX below is the explicit table. A route without an entry fails test_every_route_is_in_the_matrix
with the line to add; an entry for a route that no longer exists fails too. To add a route:

    "blueprint.endpoint": [
        Probe("GET", "/path/{cp_mine.id}", only(supervisor=200, area_supervisor=NOT_FOUND)),
        Probe("POST", "/path/{cp_mine.id}", only(supervisor=422), data={"field": "value"}),
    ],

Paths and data are formatted with the objects of tests/factories_security.build_world (cp_mine,
cp_area, cp_out, decl_in, decl_out, batch_mine, batch_out, row_in, ... and *_guess for ids or codes
that do not exist). `only(role=status, ...)` gives the listed roles their status, every other
signed-in role 403 and anonymous visitors the sign-in page; `everyone(status, role=...)` is for
public routes. Roles: anon, admin, supervisor (the whole province), area_supervisor (one commune of
it), checkpoint (staff of cp_mine), commune (officer of commune MINE). POSTs carry a valid CSRF
token of the session, so what is checked is authorization, not CSRF (test_hostile_input covers that).
"""
from dataclasses import dataclass, field

import pytest
from werkzeug.exceptions import MethodNotAllowed

from kiemdich.extensions import db, limiter
from tests.factories_security import MARKERS, ROLES, build_world, csrf_for, sign_in

LOGIN = "login"  # 302 to /dang-nhap?next=...
FORBIDDEN, NOT_FOUND = 403, 404


def redirect(prefix: str) -> str:
    return f"->{prefix}"


def only(**statuses) -> dict:
    """The listed roles get their status; other signed-in roles 403; anonymous the sign-in page."""
    expect = {role: FORBIDDEN for role in ROLES}
    expect["anon"] = LOGIN
    expect.update(statuses)
    return expect


def everyone(status, **statuses) -> dict:
    """A public route: every visitor gets `status`, except the roles listed."""
    return {role: status for role in ROLES} | statuses


SUPERVISORS = {"supervisor": 200, "area_supervisor": 200}
HOME = {"admin": redirect("/quan-tri/tai-khoan/"), "supervisor": redirect("/tinh"),
        "area_supervisor": redirect("/tinh"), "checkpoint": redirect("/chot/quet"), "commune": redirect("/xa")}


@dataclass
class Probe:
    method: str
    path: str
    expect: dict
    data: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


P = Probe
CP = "/checkpoints/{%s.id}"
LINE = {"measure": "home_quarantine", "days": "7", "after": "7", "test_days": "1, 7", "instruction_code": "7"}


def _checkpoint_pages(suffix: str, method: str = "GET", ok: int = 200, staff: bool = False, data=None) -> list:
    """A checkpoint page for: the checkpoint staff's own, another commune's in the province, another
    province's, and an id nobody has. Out of scope is 404: an id outside reveals nothing."""
    mine = {"supervisor": ok, "area_supervisor": NOT_FOUND} | ({"checkpoint": ok} if staff else {})
    area = {"supervisor": ok, "area_supervisor": ok} | ({"checkpoint": NOT_FOUND} if staff else {})
    none = {"supervisor": NOT_FOUND, "area_supervisor": NOT_FOUND} | ({"checkpoint": NOT_FOUND} if staff else {})
    return [P(method, CP % name + suffix, only(**exp), data=data or {})
            for name, exp in (("cp_mine", mine), ("cp_area", area), ("cp_out", none), ("cp_guess", none))]


def _batch_pages(suffix: str, method: str = "GET", ok=200) -> list:
    """An import batch: super1's own (at cp_mine), another province's supervisor's, and a guessed id."""
    return [P(method, "/nhap/{batch_mine.id}" + suffix, only(supervisor=ok, area_supervisor=NOT_FOUND)),
            P(method, "/nhap/{batch_out.id}" + suffix, only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND)),
            P(method, "/nhap/{batch_guess.id}" + suffix, only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))]


def _arrival_pages(suffix: str, method: str = "GET", ok=200, data=None) -> list:
    """A person followed by a commune: one routed to the officer's commune, one routed elsewhere,
    a guessed code. (The officer gets 404 for both a code that exists elsewhere and one that does
    not: the answer does not tell which codes exist.)"""
    return [P(method, "/xa/nguoi-den/{decl_in.code}" + suffix, only(commune=ok), data=data or {}),
            P(method, "/xa/nguoi-den/{decl_out.code}" + suffix, only(commune=NOT_FOUND), data=data or {}),
            P(method, "/xa/nguoi-den/{code_guess}" + suffix, only(commune=NOT_FOUND), data=data or {})]


MATRIX: dict[str, list[Probe]] = {
    # --- public -----------------------------------------------------------------------------------
    "static": [P("GET", "/static/css/app.css", everyone(200)),
               P("GET", "/static/../app.py", everyone(NOT_FOUND)),
               P("GET", "/static/%2e%2e/app.py", everyone(NOT_FOUND)),
               P("GET", "/static/..%2fapp.py", everyone(NOT_FOUND)),
               P("GET", "/static/css/../../kiemdich/config.py", everyone(NOT_FOUND))],
    "auth.index": [P("GET", "/", everyone(200, **HOME))],
    "auth.login": [P("GET", "/dang-nhap", everyone(200, **HOME)),
                   P("POST", "/dang-nhap", everyone(422, **HOME))],
    "auth.logout": [P("POST", "/dang-xuat", everyone(redirect("/dang-nhap"))),
                    P("POST", "/dang-xuat", everyone(redirect("/dang-nhap")), data={"everywhere": "1"})],
    "auth.my_session": [P("GET", "/phien-dang-nhap", everyone(200, anon=LOGIN))],
    "auth.language": [P("GET", "/ngon-ngu/en", everyone(redirect("/")))],
    "areas.communes": [P("GET", "/dia-ban/xa?tinh=75", everyone(200))],
    "declarations.declare": [P("GET", "/khai-bao", everyone(200)), P("POST", "/khai-bao", everyone(422))],
    # khai hộ prefilled from an ID card read at the scan screen: no card sent here, so "unreadable"
    "declarations.assisted": [P("POST", "/c/{cp_mine.code}/khai-ho", only(checkpoint=422)),
                              P("POST", "/c/{cp_guess.code}/khai-ho", only(checkpoint=NOT_FOUND))],
    "declarations.at_checkpoint": [P("GET", "/c/{cp_mine.code}", everyone(200)),
                                   P("GET", "/c/{cp_guess.code}", everyone(NOT_FOUND)),
                                   P("POST", "/c/{cp_mine.code}", everyone(422)),
                                   P("POST", "/c/{cp_guess.code}", everyone(NOT_FOUND))],
    "declarations.checkin": [P("POST", "/c/{cp_mine.code}/co-mat", everyone(422)),
                             P("POST", "/c/{cp_mine.code}/co-mat", everyone(200), data={"token": "{token_in}"}),
                             P("POST", "/c/{cp_mine.code}/co-mat", everyone(422), data={"token": "{tampered}"}),
                             P("POST", "/c/{cp_guess.code}/co-mat", everyone(NOT_FOUND), data={"token": "{token_in}"})],
    "declarations.public_key": [P("GET", "/khoa-cong-khai.json", everyone(200))],
    "traveller.personal": [P("GET", "/q", everyone(200))],
    "traveller.status": [P("POST", "/q/trang-thai", everyone(200), data={"token": "{token_in}"}),
                         P("POST", "/q/trang-thai", everyone(422), data={"token": "{tampered}"})],
    "traveller.qr_png": [P("POST", "/q/anh-qr", everyone(200), data={"token": "{token_in}"}),
                         P("POST", "/q/anh-qr", everyone(422), data={"token": "{tampered}"})],
    "traveller.lookup": [P("GET", "/tra-cuu", everyone(200)),
                         P("POST", "/tra-cuu", everyone(200), data={"code": "{decl_in.code}",
                                                                      "birth_year": "{decl_in.birth_year}"}),
                         P("POST", "/tra-cuu", everyone(422), data={"code": "{code_guess}", "birth_year": "1990"})],
    "followup.self_arrival": [P("POST", "/q/den-noi", everyone(200), data={"token": "{token_in}"}),
                              P("POST", "/q/den-noi", everyone(422), data={"token": "{tampered}"})],
    "followup.self_check": [P("POST", "/q/suc-khoe", everyone(422), data={"token": "{tampered}"})],
    "offline.service_worker": [P("GET", "/sw.js", everyone(200))],
    "offline.offline": [P("GET", "/ngoai-tuyen", everyone(200))],
    "offline.manifest": [P("GET", "/manifest.webmanifest", everyone(200))],
    "offline.session_info": [P("GET", "/dong-bo/phien", everyone(200, anon=401))],
    "scan.rules_json": [P("GET", "/quy-tac.json", everyone(200))],
    "health.healthz": [P("GET", "/healthz", everyone(200))],
    "health.readyz": [P("GET", "/readyz", everyone(200))],
    "metrics.metrics": [P("GET", "/metrics", everyone(200))],  # the test client comes from loopback
    "exports.job": [P("GET", "/xuat/tep/{code_guess}", only(checkpoint=NOT_FOUND, commune=NOT_FOUND,
                                                           supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))],
    "exports.job_file": [P("GET", "/xuat/tep/{code_guess}/tai", only(checkpoint=NOT_FOUND, commune=NOT_FOUND,
                                                                    supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))],

    # --- role homes ---------------------------------------------------------------------------------
    "homes.commune": [P("GET", "/xa", only(commune=200))],
    "homes.checkpoint": [P("GET", "/chot", only(checkpoint=200))],
    "homes.supervisor": [P("GET", "/tinh", only(**SUPERVISORS))],

    # --- admin: accounts, privacy ---------------------------------------------------------------------
    "accounts.index": [P("GET", "/quan-tri/tai-khoan/", only(admin=200))],
    "accounts.new": [P("GET", "/quan-tri/tai-khoan/moi", only(admin=200)),
                     P("POST", "/quan-tri/tai-khoan/moi", only(admin=422))],
    "accounts.password": [P("GET", "/quan-tri/tai-khoan/{xa1.id}/mat-khau", only(admin=200)),
                          P("GET", "/quan-tri/tai-khoan/{user_guess.id}/mat-khau", only(admin=NOT_FOUND)),
                          P("POST", "/quan-tri/tai-khoan/{xa1.id}/mat-khau", only(admin=422)),
                          P("POST", "/quan-tri/tai-khoan/{user_guess.id}/mat-khau", only(admin=NOT_FOUND))],
    "accounts.sign_out_everywhere": [
        P("POST", "/quan-tri/tai-khoan/{spare.id}/dang-xuat", only(admin=redirect("/quan-tri/tai-khoan/"))),
        P("POST", "/quan-tri/tai-khoan/{user_guess.id}/dang-xuat", only(admin=NOT_FOUND))],
    "accounts.activation": [
        P("POST", "/quan-tri/tai-khoan/{spare.id}/kich-hoat", only(admin=redirect("/quan-tri/tai-khoan/"))),
        P("POST", "/quan-tri/tai-khoan/{user_guess.id}/kich-hoat", only(admin=NOT_FOUND))],
    "privacy.notice": [P("GET", "/quan-tri/thong-bao-du-lieu", only(admin=200)),
                       P("POST", "/quan-tri/thong-bao-du-lieu", only(admin=422))],
    "privacy.requests": [P("GET", "/quan-tri/yeu-cau-du-lieu", only(admin=200)),
                         P("POST", "/quan-tri/yeu-cau-du-lieu", only(admin=422))],
    "privacy.export": [P("POST", "/quan-tri/yeu-cau-du-lieu/xuat", only(admin=200), data={"code": "{decl_in.code}"}),
                       P("POST", "/quan-tri/yeu-cau-du-lieu/xuat", only(admin=422), data={"code": "{code_guess}"})],
    "privacy.erase": [P("POST", "/quan-tri/yeu-cau-du-lieu/xoa", only(admin=422), data={"code": "{decl_in.code}"})],
    "privacy.reveal": [
        P("POST", "/hien-so/{decl_in.code}", only(supervisor=200, area_supervisor=NOT_FOUND, checkpoint=200,
                                                  commune=200)),
        P("POST", "/hien-so/{decl_out.code}", only(supervisor=200, area_supervisor=200, checkpoint=NOT_FOUND,
                                                   commune=NOT_FOUND)),
        P("POST", "/hien-so/{decl_hcm.code}", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND,
                                                   checkpoint=NOT_FOUND, commune=NOT_FOUND)),
        P("POST", "/hien-so/{code_guess}", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND,
                                                checkpoint=NOT_FOUND, commune=NOT_FOUND))],
    "audit_trail.index": [P("GET", "/nhat-ky/", only(admin=200, **SUPERVISORS))],

    # --- supervisors: checkpoints -------------------------------------------------------------------
    "checkpoints.index": [P("GET", "/checkpoints/", only(**SUPERVISORS))],
    "checkpoints.new": [P("GET", "/checkpoints/new", only(**SUPERVISORS)),
                        P("POST", "/checkpoints/new", only(supervisor=422, area_supervisor=422)),
                        # a commune outside the supervisor's area is refused like a wrong value
                        P("POST", "/checkpoints/new", only(supervisor=422, area_supervisor=422),
                          data={"name": "Chốt mới", "commune": "26506"})],
    "checkpoints.show": _checkpoint_pages(""),
    "checkpoints.edit": _checkpoint_pages("/edit") + _checkpoint_pages("/edit", "POST", 422),
    "checkpoints.activation": _checkpoint_pages("/active", "POST", redirect("/checkpoints/")),
    "checkpoints.rotate": _checkpoint_pages("/rotate", "POST", redirect("/checkpoints/")),
    "checkpoints.staff": _checkpoint_pages("/staff", "POST", redirect("/checkpoints/")),
    "checkpoints.poster": _checkpoint_pages("/poster", staff=True),
    "checkpoints.qr_png": _checkpoint_pages("/qr.png", staff=True),
    "checkpoints.qr_svg": _checkpoint_pages("/qr.svg", staff=True),

    # --- supervisors: policy, dashboard, imports ---------------------------------------------------------
    "rules.levels": [P("GET", "/tinh/cap-do", only(**SUPERVISORS))],
    "rules.set_level": [P("POST", "/tinh/cap-do", only(supervisor=422))],  # only province-wide supervisors edit
    "rules.rules": [P("GET", "/tinh/quy-tac", only(**SUPERVISORS))],
    "rules.version": [P("GET", "/tinh/quy-tac/1", only(**SUPERVISORS)),
                      P("GET", "/tinh/quy-tac/{draft}", only(**SUPERVISORS)),
                      P("GET", "/tinh/quy-tac/99", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))],
    "rules.copy": [P("POST", "/tinh/quy-tac/1/sao-chep", only(supervisor=redirect("/tinh/quy-tac/"))),
                   P("POST", "/tinh/quy-tac/99/sao-chep", only(supervisor=NOT_FOUND))],
    "rules.save_meta": [P("POST", "/tinh/quy-tac/{draft}/thong-tin", only(supervisor=422)),
                        P("POST", "/tinh/quy-tac/99/thong-tin", only(supervisor=NOT_FOUND),
                          data={"name": "Bản nháp"})],
    "rules.publish": [P("POST", "/tinh/quy-tac/{draft}/cong-bo", only(supervisor=422)),
                      P("POST", "/tinh/quy-tac/99/cong-bo", only(supervisor=NOT_FOUND),
                        data={"effective_from": "2030-01-01"})],
    "rules.edit_line": [P("GET", "/tinh/quy-tac/{draft}/dong/{line_draft.id}/sua", only(supervisor=200)),
                        P("GET", "/tinh/quy-tac/1/dong/{line_v1.id}/sua", only(supervisor=NOT_FOUND)),  # published
                        P("GET", "/tinh/quy-tac/{draft}/dong/{line_v1.id}/sua", only(supervisor=NOT_FOUND)),
                        P("GET", "/tinh/quy-tac/{draft}/dong/{line_guess.id}/sua", only(supervisor=NOT_FOUND))],
    "rules.save_line": [P("POST", "/tinh/quy-tac/{draft}/dong/{line_draft.id}", only(supervisor=422)),
                        # a published line is never changed, even with valid values
                        P("POST", "/tinh/quy-tac/1/dong/{line_v1.id}", only(supervisor=422), data=LINE),
                        P("POST", "/tinh/quy-tac/{draft}/dong/{line_v1.id}", only(supervisor=NOT_FOUND)),
                        P("POST", "/tinh/quy-tac/{draft}/dong/{line_guess.id}", only(supervisor=NOT_FOUND))],
    "rules.preview": [P("GET", "/tinh/quy-tac/{draft}/xem-truoc?level=4&doses=0&arrival=2021-11-01",
                        only(**SUPERVISORS)),
                      P("GET", "/tinh/quy-tac/99/xem-truoc", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))],
    "dashboard.drill": [
        P("GET", "/tinh/ds?f=p_all", only(**SUPERVISORS)),
        P("GET", "/tinh/ds?f=p_all&cp={cp_mine.code}", only(supervisor=200, area_supervisor=NOT_FOUND)),
        P("GET", "/tinh/ds?f=p_all&cp={cp_out.code}", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND)),
        P("GET", "/tinh/ds?f=a_exp&commune=25210", only(supervisor=200, area_supervisor=NOT_FOUND)),
        P("GET", "/tinh/ds?f=a_exp&commune=26506", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND)),
        P("GET", "/tinh/ds?f=a_exp&area=26506", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))],
    "dashboard.export": [P("POST", "/tinh/xuat", only(**SUPERVISORS)),
                         P("POST", "/tinh/xuat", only(supervisor=422, area_supervisor=422), data={"area": "26506"})],
    "imports.index": [P("GET", "/nhap/", only(**SUPERVISORS))],
    "imports.upload": [P("POST", "/nhap/", only(supervisor=422, area_supervisor=422))],
    "imports.show": _batch_pages(""),
    "imports.progress": _batch_pages("/tien-do"),
    "imports.error_report": _batch_pages("/bao-cao-loi.xlsx"),
    "imports.mapping": _batch_pages("/cot", "POST", 422),
    "imports.commit": _batch_pages("/ghi", "POST", 409),  # the batch is not analysed yet
    # (a written batch cannot be cancelled any more)
    "imports.cancel": _batch_pages("/huy", "POST", redirect("/nhap/"))
    + [P("POST", "/nhap/{done_mine.id}/huy", only(supervisor=409, area_supervisor=NOT_FOUND))],
    "imports.remap": _batch_pages("/sua-cot", "POST", 409),
    "imports.resume": _batch_pages("/tiep-tuc", "POST", 409),  # nothing was interrupted
    "imports.checkpoints": _batch_pages("/chot") + _batch_pages("/chot", "POST", redirect("/nhap/")),
    "imports.triage": [P("GET", "/nhap/phan-loai", only(**SUPERVISORS))],
    "imports.resolve": [
        P("POST", "/nhap/phan-loai/{row_in.id}", only(supervisor=redirect("/nhap/phan-loai"),
                                                      area_supervisor=NOT_FOUND), data={"commune": "25210"}),
        P("POST", "/nhap/phan-loai/{row_out.id}", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND),
          data={"commune": "25210"}),
        P("POST", "/nhap/phan-loai/{row_guess.id}", only(supervisor=NOT_FOUND, area_supervisor=NOT_FOUND))],

    # --- exports --------------------------------------------------------------------------------------
    "exports.passages": [
        P("GET", "/xuat/qua-chot", only(checkpoint=200, **SUPERVISORS)),
        P("POST", "/xuat/qua-chot", only(checkpoint=200, supervisor=200, area_supervisor=200),
          data={"checkpoint": "0", "start": "2021-10-01", "end": "2021-10-07", "fmt": "csv"}),
        # another checkpoint's id is not among the choices: refused as a wrong value
        P("POST", "/xuat/qua-chot", only(checkpoint=200, supervisor=200, area_supervisor=422),
          data={"checkpoint": "{cp_mine.id}", "start": "2021-10-01", "end": "2021-10-07", "fmt": "csv"}),
        P("POST", "/xuat/qua-chot", only(checkpoint=422, supervisor=422, area_supervisor=422),
          data={"checkpoint": "{cp_out.id}", "start": "2021-10-01", "end": "2021-10-07", "fmt": "csv"})],
    "exports.arrivals": [
        P("GET", "/xuat/nguoi-den", only(commune=200, **SUPERVISORS)),
        P("POST", "/xuat/nguoi-den", only(commune=200, **SUPERVISORS), data={"fmt": "csv"}),
        P("POST", "/xuat/nguoi-den", only(commune=422, supervisor=422, area_supervisor=422),
          data={"fmt": "csv", "commune": "26506"}),
        P("POST", "/xuat/nguoi-den", only(commune=200, supervisor=200, area_supervisor=422),
          data={"fmt": "csv", "commune": "25210"})],

    # --- checkpoint staff ---------------------------------------------------------------------------------
    "scan.scan_page": [P("GET", "/chot/quet", only(checkpoint=200))],
    "scan.today": [P("GET", "/chot/hom-nay", only(checkpoint=200))],
    "scan.lookup": [P("POST", "/chot/quet/tim", only(checkpoint=200), data={"chot": "{cp_mine.code}", "q": "0912"}),
                    P("POST", "/chot/quet/tim", only(checkpoint=FORBIDDEN), data={"chot": "{cp_area.code}", "q": "0912"}),
                    P("POST", "/chot/quet/tim", only(checkpoint=NOT_FOUND), data={"chot": "{cp_guess.code}", "q": "0912"})],
    "scan.pending": [P("GET", "/chot/tu-bao?chot={cp_mine.code}", only(checkpoint=200)),
                     P("GET", "/chot/tu-bao?chot={cp_area.code}", only(checkpoint=FORBIDDEN)),
                     P("GET", "/chot/tu-bao?chot={cp_guess.code}", only(checkpoint=NOT_FOUND))],
    "scan.verdict": [P("POST", "/chot/quet/xem", only(checkpoint=200), data={"chot": "{cp_mine.code}",
                                                                         "token": "{token_in}"}),
                     P("POST", "/chot/quet/xem", only(checkpoint=FORBIDDEN), data={"chot": "{cp_area.code}",
                                                                               "token": "{token_in}"}),
                     P("POST", "/chot/quet/xem", only(checkpoint=NOT_FOUND), data={"chot": "{cp_guess.code}",
                                                                               "token": "{token_in}"})],
    "scan.passage": [
        P("POST", "/chot/qua-chot", only(checkpoint=201), data={"chot": "{cp_mine.code}", "token": "{token_fresh}",
                                                                "decision": "allow"}),
        P("POST", "/chot/qua-chot", only(checkpoint=FORBIDDEN), data={"chot": "{cp_area.code}",
                                                                      "token": "{token_in}", "decision": "allow"}),
        P("POST", "/chot/qua-chot", only(checkpoint=NOT_FOUND), data={"chot": "{cp_guess.code}",
                                                                      "token": "{token_in}", "decision": "allow"})],

    # --- commune officers ------------------------------------------------------------------------------
    "followup.panel": [P("GET", "/xa/ds/due", only(commune=200)), P("GET", "/xa/ds/nope", only(commune=NOT_FOUND)),
                       P("POST", "/xa/ds/due", only(commune=200), data={"q": "0912"})],
    "followup.rows": [P("GET", "/xa/ds/due/dong", only(commune=200)),
                      P("GET", "/xa/ds/nope/dong", only(commune=NOT_FOUND)),
                      P("POST", "/xa/ds/due/dong", only(commune=200), data={"q": "0912"}),
                      P("POST", "/xa/ds/nope/dong", only(commune=NOT_FOUND), data={"q": "0912"})],
    "followup.detail": _arrival_pages(""),
    "followup.confirm": _arrival_pages("/xac-nhan", "POST", 200, data={"how": "phone"}),
    "followup.check": _arrival_pages("/kiem-tra", "POST", 200),  # an empty check: seen, nothing to report
    "followup.change": _arrival_pages("/close", "POST", 422)
    + [P("POST", "/xa/nguoi-den/{decl_in.code}/nope", only(commune=NOT_FOUND))],
    "followup.today": [P("GET", "/xa/hom-nay", only(commune=200))],
    "followup.handover": _arrival_pages("/duong-dan", "POST", 200),
    "followup.merge": _arrival_pages("/gop", "POST", 400),  # no second follow-up named: nothing to merge
    "notify.subscribe": [P("POST", "/thong-bao/dang-ky", only(commune=422))],  # no subscription sent
    "notify.unsubscribe": [P("POST", "/thong-bao/huy", only(commune=200))],
    "notify.messages": [P("GET", "/quan-tri/tin-nhan", only(admin=200))],
    "followup.station": [P("GET", "/xa/tram", only(commune=200)),
                         P("GET", "/xa/tram?commune=25417", only(commune=FORBIDDEN)),
                         P("POST", "/xa/tram", only(commune=200), data={"phone": "0271 3879 123"}),
                         P("POST", "/xa/tram", only(commune=FORBIDDEN), data={"commune": "25417"})],
}


def _rules(app):
    return [rule for rule in app.url_map.iter_rules()]


def test_every_route_is_in_the_matrix(app):
    """A new route (or a new method of a route) needs its line in MATRIX; a removed one loses it."""
    missing = []
    for rule in _rules(app):
        probes = MATRIX.get(rule.endpoint, [])
        for method in sorted(rule.methods & {"GET", "POST"}):
            if not any(p.method == method for p in probes):
                missing.append(f"  {rule.endpoint} {method} {rule.rule}")
    assert not missing, (
        "These routes have no entry in MATRIX (tests/test_authorization_matrix.py). Add the expected "
        "status per role, e.g.\n    \"blueprint.view\": [Probe(\"GET\", \"/path\", only(supervisor=200))],\n"
        + "\n".join(missing))
    stale = set(MATRIX) - {rule.endpoint for rule in _rules(app)}
    assert not stale, f"MATRIX has entries for routes that no longer exist: {sorted(stale)}"


def test_matrix_agrees_with_the_role_guards(app):
    """Where a view has @role_required, the table must deny the roles the guard denies (and send
    anonymous visitors to sign in): the table cannot silently grant what the code refuses."""
    for endpoint, probes in MATRIX.items():
        roles = getattr(app.view_functions[endpoint], "roles", None)
        if roles is None:
            continue
        for probe in probes:
            assert probe.expect["anon"] == LOGIN, f"{endpoint}: anonymous visitors must be sent to sign in"
            for role in ROLES[1:]:
                base = "supervisor" if role == "area_supervisor" else role
                if base not in roles:
                    assert probe.expect[role] == FORBIDDEN, f"{endpoint} {probe.path}: {role} must get 403"


# POSTs whose answer is what the user asked for: a data-subject search shows the people found; the
# traveller's own pages show the person whose signed token (or code and ID number) was sent, whoever
# sends it (the token is the credential, README "Architecture").
POST_SHOWS_WHAT_WAS_ASKED = {"privacy.requests", "privacy.export", "traveller.status", "traveller.lookup",
                             "followup.self_arrival", "followup.self_check"}


def test_the_markers_are_shown_in_scope(app):
    """The leak check is not vacuous: the same names do appear on the pages of those in scope."""
    world = build_world()
    clients = _clients(app, world)
    assert MARKERS["decl_in"] in clients["commune"].get(f"/xa/nguoi-den/{world.decl_in.code}").get_data(as_text=True)
    assert MARKERS["decl_in"] in clients["commune"].get("/xa/ds/expected").get_data(as_text=True)
    assert MARKERS["decl_out"] in clients["area_supervisor"].get("/tinh/ds?f=a_exp").get_data(as_text=True)
    assert MARKERS["triage_in"] in clients["supervisor"].get("/nhap/phan-loai").get_data(as_text=True)


def _fill(template, world) -> str:
    return template.format(**world.names) if isinstance(template, str) else template


# Whose names a role must never see on a page it is allowed to open (list and detail pages alike):
# a status-only matrix passed a 200 page that listed another commune's people.
EVERYONE = set(MARKERS)
OUT_OF_SCOPE = {
    "anon": EVERYONE,
    "admin": EVERYONE,  # admins see travellers only through a data-subject request (a POST)
    "supervisor": {"decl_hcm", "triage_out"},  # another province's checkpoint and supervisor
    "area_supervisor": EVERYONE - {"decl_out"},  # commune AREA only
    "checkpoint": {"decl_out", "decl_hcm", "triage_out"},  # passed other checkpoints
    "commune": {"decl_out", "decl_hcm", "triage_in", "triage_out"},  # not routed to commune MINE
}


def _leaks(response, role: str, where: str) -> str | None:
    if response.status_code != 200 or response.mimetype not in ("text/html", "application/json", "text/csv"):
        return None
    body = response.get_data(as_text=True)
    shown = sorted(name for name in OUT_OF_SCOPE[role] if MARKERS[name] in body)
    return f"{where}: shows {shown}, outside the role's scope" if shown else None


def _check(response, expected, where: str) -> str | None:
    got = response.status_code
    location = response.headers.get("Location", "")
    if expected == LOGIN:
        ok = got == 302 and location.startswith("/dang-nhap")
    elif isinstance(expected, str) and expected.startswith("->"):
        ok = got in (302, 303) and location.startswith(expected[2:])
    else:
        ok = got == expected
    if ok:
        return None
    return f"{where}: expected {expected}, got {got} {location}".rstrip()


def _clients(app, world):
    clients = {}
    for role in ROLES:
        client = app.test_client()
        if role != "anon":
            sign_in(client, world.users[role])
        clients[role] = client
    return clients


@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_route_against_every_role(app, endpoint):
    """Each probe of the endpoint as every role, on a fresh world (writes by one probe stay there)."""
    world = build_world()
    adapter = app.url_map.bind("localhost")
    failures = []
    clients = _clients(app, world)
    tokens = {role: csrf_for(client) for role, client in clients.items()}
    for probe in MATRIX[endpoint]:
        path = _fill(probe.path, world)
        data = {key: _fill(value, world) for key, value in probe.data.items()}
        for role in ROLES:
            client = clients[role]
            limiter.reset()  # every role comes from the same address: the public limits would trip
            if probe.method == "POST":
                response = client.post(path, data=data | {"csrf_token": tokens[role]}, headers=probe.headers)
            else:
                response = client.get(path, headers=probe.headers)
            db.session.rollback()  # a fresh snapshot for the next request (PostgreSQL)
            problem = _check(response, probe.expect[role], f"{role:>15} {probe.method} {path}")
            if problem:
                failures.append(problem)
            if probe.method == "GET" or endpoint not in POST_SHOWS_WHAT_WAS_ASKED:
                leak = _leaks(response, role, f"{role:>15} {probe.method} {path}")
                if leak:
                    failures.append(leak)
            if endpoint == "auth.logout":  # signed out, with a new session and CSRF token
                if role != "anon":
                    sign_in(client, world.users[role])
                tokens[role] = csrf_for(client)
        # The other method on the same path is refused by the router, before any view runs.
        other = "POST" if probe.method == "GET" else "GET"
        try:
            adapter.match(path.split("?")[0], method=other)
        except MethodNotAllowed:
            response = clients["anon"].open(path, method=other, data={"csrf_token": tokens["anon"]})
            if response.status_code != 405:
                failures.append(f"{'anon':>15} {other} {path}: expected 405, got {response.status_code}")
        except Exception:  # noqa: BLE001  (404 from the router: nothing to check)
            pass
    assert not failures, "\n" + "\n".join(failures)


def test_injected_session_equals_a_real_sign_in(app, client, auth):
    """The matrix signs in by writing the session; the real form gives the same access."""
    world = build_world()
    auth.login("xa1")
    injected = app.test_client()
    sign_in(injected, world.users["commune"])
    for path in ("/xa", "/tinh", "/xa/nguoi-den/" + world.decl_in.code):
        assert client.get(path).status_code == injected.get(path).status_code


def test_matrix_size():
    """Keep the table honest: every role is listed in every probe."""
    for endpoint, probes in MATRIX.items():
        for probe in probes:
            assert set(probe.expect) == set(ROLES), endpoint

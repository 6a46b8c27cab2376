"""CSRF on every state-changing route, found from the URL map (not a hand-made list).

Each rule accepting POST/PUT/PATCH/DELETE is requested by a user the view admits, its path filled
with real objects in that user's scope and a body that would otherwise be acted on, but without
a CSRF token: the answer is 400 and no row of any table changes. The only exceptions are listed in
EXEMPT with the reason; the test also checks each of them really is exempt, so the list stays exact.
"""
import pytest

from kiemdich.extensions import csrf
from tests.factories_security import build_world, changed_tables, sign_in, snapshot

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Views that take no CSRF token on purpose (README, "Architecture"):
EXEMPT = {
    # The returnee's actions from the status link: the signed personal token in the body is the
    # credential; the outbox replays them with no session (and so no CSRF token) at all.
    "followup.self_arrival",
    "followup.self_check",
    # Reads only (the status fragment for a signed token; the personal QR as a PNG); nothing is written.
    "traveller.status",
    "traveller.qr_png",
}
# Not in EXEMPT although marked @csrf.exempt: the sign-in view checks the token itself, in its form,
# after the rate limit (so floods without a token are counted) and still answers 400 without one.
CHECKED_IN_VIEW = {"auth.login"}


def _path(rule, world) -> str:
    """The rule's path with objects a signed-in user of the view's role may act on."""
    endpoint = rule.endpoint
    values = {
        "checkpoint_id": world.cp_mine.id, "batch_id": world.batch_mine.id, "row_id": world.row_in.id,
        "user_id": world.xa1.id, "number": world.draft, "line_id": world.line_draft.id,
        "key": "expected", "action": "close",
        "code": world.cp_mine.code if endpoint.startswith("declarations.") else world.decl_in.code,
    }
    if endpoint in ("imports.commit", "imports.cancel", "imports.resume"):
        values["batch_id"] = world.batch_mine.id
    return rule.build(values, append_unknown=False)[1]


def _role(app, endpoint):
    roles = getattr(app.view_functions[endpoint], "roles", None)
    if not roles:
        return None
    return "supervisor" if "supervisor" in roles else roles[0]


BODY = {"reason": "Gia đình báo đã về", "days": "3", "how": "visit", "temperature": "36.8", "name": "Nguyễn Văn An",
        "username": "xa1", "password": "correct horse battery", "note": "ghi chú"}


def _state_changing_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.methods & STATE_CHANGING]


def test_the_url_map_has_the_state_changing_routes_we_expect(app):
    """Guards the test itself: if the map were read wrongly, the loop below would check nothing."""
    endpoints = {rule.endpoint for rule in _state_changing_rules(app)}
    assert {"imports.commit", "scan.passage", "followup.change", "privacy.reveal", "auth.logout"} <= endpoints
    assert len(endpoints) >= 40


def test_every_state_changing_route_refuses_a_request_without_a_csrf_token(app):
    world = build_world()
    checked, exempt_seen = [], set()
    for rule in sorted(_state_changing_rules(app), key=lambda r: r.rule):
        role = _role(app, rule.endpoint)
        client = app.test_client()
        if role:
            sign_in(client, world.users[role])
        path = _path(rule, world)
        for method in sorted(rule.methods & STATE_CHANGING):
            before = snapshot()
            response = client.open(path, method=method, data=BODY | {"token": world.token_in})
            if rule.endpoint in EXEMPT:
                exempt_seen.add(rule.endpoint)
                assert response.status_code == 200, (path, response.status_code)  # acted on its own credential
                continue
            assert response.status_code == 400, (rule.endpoint, path, method, response.status_code)
            assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True), rule.endpoint
            assert changed_tables(before, snapshot()) == [], (rule.endpoint, path)
            checked.append(rule.endpoint)
    assert exempt_seen == EXEMPT  # no stale entry in the list
    assert "imports.commit" in checked and "auth.login" in checked


def test_the_exempt_list_is_exactly_the_views_marked_exempt(app):
    """A view marked @csrf.exempt that is not listed (with its reason) above fails here."""
    marked = set()
    for rule in _state_changing_rules(app):
        view = app.view_functions[rule.endpoint]
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            marked.add(rule.endpoint)
    assert marked == EXEMPT | CHECKED_IN_VIEW


@pytest.mark.parametrize("endpoint", sorted(EXEMPT))
def test_exempt_routes_refuse_without_their_own_credential(app, endpoint):
    """An exempt route without the signed token in its body is refused and writes nothing."""
    world = build_world()
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    before = snapshot()
    response = app.test_client().post(rule.rule, data={"token": world.tampered})
    assert response.status_code == 422
    assert changed_tables(before, snapshot()) == []

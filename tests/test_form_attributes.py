"""Every form of the app, rendered as each role that may see it (and again with its errors where a
POST re-renders it): the attributes of its fields are ones a browser understands.

The pages are those of tests/test_authorization_matrix.MATRIX that answer 200 to a GET (or 422 to a
POST) for some role, so a new page with a form is checked as soon as it enters the matrix.
"""
from html.parser import HTMLParser

from kiemdich.extensions import db, limiter
from tests.factories_security import ROLES, build_world, csrf_for, sign_in
from tests.test_authorization_matrix import MATRIX, _fill

INPUT_TYPES = {"text", "search", "tel", "url", "email", "password", "date", "month", "week", "time",
               "datetime-local", "number", "range", "color", "checkbox", "radio", "file", "submit",
               "image", "reset", "button", "hidden"}
INPUTMODES = {"none", "text", "decimal", "numeric", "tel", "search", "email", "url"}
BUTTON_TYPES = {"submit", "reset", "button"}
FIELDS = ("input", "select", "textarea", "button")


class Fields(HTMLParser):
    """The form fields of a page, and the ids its labels point at."""

    def __init__(self):
        super().__init__()
        self.fields, self.label_for, self.in_label, self.forms = [], set(), 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms += 1
        elif tag == "label":
            self.in_label += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        elif tag in FIELDS:
            self.fields.append((tag, attrs, self.in_label > 0))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "label":
            self.in_label -= 1

    def handle_endtag(self, tag):
        if tag == "label":
            self.in_label = max(0, self.in_label - 1)


def problems(html: str) -> tuple[int, list[str]]:
    """(number of forms, what is wrong with their fields)."""
    parser = Fields()
    parser.feed(html)
    found = []
    for tag, attrs, wrapped in parser.fields:
        name = f"<{tag} {attrs.get('name') or attrs.get('id') or ''}>"
        found += [f"{name} {k}={v!r}" for k, v in attrs.items() if v == "None"]  # Python's None as text
        kind = attrs.get("type")
        if tag == "input" and kind is not None and kind not in INPUT_TYPES:
            found.append(f"{name} type={kind!r}")
        if tag == "button" and kind is not None and kind not in BUTTON_TYPES:
            found.append(f"{name} type={kind!r}")
        if "inputmode" in attrs and attrs["inputmode"] not in INPUTMODES:
            found.append(f"{name} inputmode={attrs['inputmode']!r}")
        labelled = (wrapped or attrs.get("id") in parser.label_for or attrs.get("aria-label")
                    or attrs.get("aria-labelledby") or attrs.get("title"))
        if tag != "button" and kind not in ("hidden", "submit", "button", "image", "reset") and not labelled:
            found.append(f"{name} has no label")
    return parser.forms, found


def test_problems_sees_what_the_checkpoint_form_rendered_before():
    """The checker itself: the checkpoint form's old output is caught, a sound field passes."""
    _forms, bad = problems('<form><label for="lat">Vĩ độ</label>'
                           '<input id="lat" name="lat" type="None" inputmode="None" value=""></form>')
    assert "<input lat> type='None'" in bad and "<input lat> inputmode='None'" in bad
    assert problems('<form><label>Tên <input name="n" type="text" autocomplete="off"></label></form>')[1] == []


def test_every_form_renders_valid_attributes(app):
    world = build_world()
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        if role != "anon":
            sign_in(clients[role], world.users[role])
    tokens = {role: csrf_for(client) for role, client in clients.items()}
    failures, pages, forms = [], set(), 0
    for endpoint, probes in sorted(MATRIX.items()):
        if endpoint == "auth.logout":
            continue
        for probe in probes:
            wanted = 200 if probe.method == "GET" else 422
            for role in [r for r in ROLES if probe.expect.get(r) == wanted]:
                path = _fill(probe.path, world)
                limiter.reset()
                if probe.method == "POST":
                    data = {key: _fill(value, world) for key, value in probe.data.items()}
                    response = clients[role].post(path, data=data | {"csrf_token": tokens[role]},
                                                  headers=probe.headers)
                else:
                    response = clients[role].get(path, headers=probe.headers)
                db.session.rollback()
                if response.status_code != wanted or not response.mimetype == "text/html":
                    continue
                count, bad = problems(response.get_data(as_text=True))
                forms += count
                pages.add(f"{probe.method} {probe.path}")
                failures += [f"{role} {probe.method} {path}: {b}" for b in bad]
    assert "GET /checkpoints/new" in pages and "GET /quan-tri/tai-khoan/moi" in pages
    assert forms > 40, f"only {forms} forms rendered: the matrix walk is broken"
    assert not failures, "\n" + "\n".join(sorted(set(failures)))

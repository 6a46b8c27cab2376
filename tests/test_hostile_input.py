"""Hostile input: every form and JSON endpoint gets random Unicode, huge strings, wrong types, missing
fields, missing or tampered CSRF tokens, replayed and tampered personal tokens; the answer is a 4xx
with a clear Vietnamese message, and not one row of the database changes. Then the spreadsheet
importer is fuzzed with mutated files, and paths, file names and sizes are pushed past their limits.

Hypothesis budgets are small (max_examples 25-40, no deadline) so the suite stays quick on two cores;
the @given functions are defined inside the tests, so the function-scoped `app` fixture is created
once per test, not once per example.
"""
from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from tests.factories_security import build_world, csrf_for, sign_in, snapshot

VIETNAMESE = set("ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


def vietnamese(body: str) -> bool:
    """A page in Vietnamese (diacritics present) and no stack trace or stock English error page."""
    lowered = body.lower()
    return (any(ch in VIETNAMESE for ch in lowered) and "traceback" not in lowered
            and "<title>4" not in lowered and "bad request" not in lowered)


# --- regressions of bugs the matrix and these tests found ------------------------------------------

def test_sign_in_without_fields_is_422(app, client):
    """It was a 200: the form's errors came back as if nothing was wrong."""
    build_world()
    response = client.post("/dang-nhap", data={"csrf_token": csrf_for(client)})
    assert response.status_code == 422 and vietnamese(response.get_data(as_text=True))


def test_empty_data_subject_search_is_refused_and_not_audited(app):
    """It was a 200 with an audited empty search: Optional() stopped the "enter one of" check."""
    world = build_world()
    client = app.test_client()
    sign_in(client, world.users["admin"])
    before = snapshot()
    response = client.post("/quan-tri/yeu-cau-du-lieu", data={"csrf_token": csrf_for(client), "name": "  "})
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "Nhập số giấy tờ, số điện thoại hoặc họ tên" in body
    assert snapshot() == before
    assert db.session.query(AuditEvent).filter_by(action="dsr.search").count() == 0

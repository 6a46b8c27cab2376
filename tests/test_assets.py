"""Static files: versioned URLs cached for a year, nothing personal on them, the service worker
precaching the same URLs."""
import hashlib
import re

from flask import url_for

from kiemdich import assets


def _digest(app, filename):
    with open(f"{app.static_folder}/{filename}", "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:10]


def test_pages_name_static_files_with_their_content_hash(client, app):
    html = client.get("/dang-nhap").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert any(u.startswith("/static/css/app.css?") for u in urls)
    for url in urls:
        path, _, version = url.partition("?v=")
        assert version == _digest(app, path.removeprefix("/static/")), url


def test_a_versioned_file_is_immutable_and_carries_no_cookie(client, auth, users):
    auth.login("xa1")
    with client.application.test_request_context():
        url = url_for("static", filename="css/app.css")
    response = client.get(url, headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")  # a browser would key its cache on the cookie
    assert "Accept-Encoding" in response.headers["Vary"]


def test_unversioned_or_stale_urls_are_revalidated(client):
    assert client.get("/static/css/app.css").headers["Cache-Control"] == "no-cache"
    assert client.get("/static/css/app.css?v=0123456789").headers["Cache-Control"] == "no-cache"
    assert client.get("/static/nothing.css?v=0123456789").status_code == 404


def test_a_changed_file_gets_a_new_url(app, tmp_path):
    app.static_folder = str(tmp_path)
    app.debug = True  # the hash follows the file's modification time
    (tmp_path / "x.js").write_text("one")
    with app.test_request_context():
        first = url_for("static", filename="x.js")
        (tmp_path / "x.js").write_text("two, longer")
        second = url_for("static", filename="x.js")
        assert assets.file_hash("../x.js") is None and assets.file_hash("missing.js") is None
    assert first != second and second.endswith("?v=" + hashlib.sha256(b"two, longer").hexdigest()[:10])


def test_service_worker_precaches_the_versioned_urls(client, app):
    body = client.get("/sw.js").get_data(as_text=True)
    core = re.search(r"var CORE_URLS = \[([^\]]+)\]", body).group(1)
    with app.test_request_context():
        assert f'"{url_for("static", filename="css/app.css")}"' in core
        assert f'importScripts("{url_for("static", filename="js/outbox.js")}")' in body
    assert '"/static/css/app.css"' not in body


def test_manifest_names_its_icons_by_the_versioned_urls(client, app):
    icons = [i["src"] for i in client.get("/manifest.webmanifest").get_json()["icons"]]
    with app.test_request_context():
        assert url_for("static", filename="icons/icon.svg") in icons
    assert all("?v=" in src for src in icons)
    assert all(client.get(src).headers["Cache-Control"].endswith("immutable") for src in icons)

"""/sw.js is checked by browsers on most page views: a conditional request must end in a 304."""
from pathlib import Path


def test_service_worker_answers_304_to_its_own_etag(client):
    first = client.get("/sw.js", headers={"Accept-Encoding": "gzip, br"})
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Content-Encoding"] in ("br", "gzip")  # the tag survives compression
    again = client.get("/sw.js", headers={"If-None-Match": first.headers["ETag"], "Accept-Encoding": "gzip, br"})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-cache"


def test_plain_request_gets_the_same_validator(client):
    plain = client.get("/sw.js")
    compressed = client.get("/sw.js", headers={"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] == compressed.headers["ETag"]
    assert client.get("/sw.js", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304


def test_a_changed_service_worker_is_downloaded_again(client, app, tmp_path):
    old = client.get("/sw.js").headers["ETag"]
    source = (Path(app.static_folder) / "sw.js").read_text(encoding="utf-8")
    (tmp_path / "sw.js").write_text(source + "\n// a new release\n", encoding="utf-8")
    app.static_folder = str(tmp_path)
    response = client.get("/sw.js", headers={"If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["ETag"] != old and b"a new release" in response.get_data()

"""What every response shares: headers, compression, error pages, manifest, languages, rate limits."""
import json
import os
import re
from pathlib import Path

import pytest

from kiemdich.extensions import limiter

ROOT = Path(__file__).resolve().parents[1]


def test_strict_csp_without_inline_code(client):
    response = client.get("/dang-nhap")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_templates_have_no_inline_script_style_or_hx_on():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "<script>" not in text and "<script >" not in text, path
        assert " style=" not in text and "<style" not in text, path
        assert "hx-on" not in text and '"js:' not in text, path


def test_htmx_is_configured_for_strict_csp(client):
    html = client.get("/dang-nhap").get_data(as_text=True)
    config = html.split('name="htmx-config" content=\'')[1].split("'")[0]
    parsed = json.loads(config)
    assert parsed["allowEval"] is False and parsed["includeIndicatorStyles"] is False
    assert (ROOT / "static/vendor/htmx.min.js").exists(), "run `make assets`"
    assert re.search(r'src="/static/vendor/htmx\.min\.js\?v=[0-9a-f]{10}"', html)


def test_htmx_sends_the_csrf_token(client):
    html = client.get("/dang-nhap").get_data(as_text=True)
    assert "hx-headers='{\"X-CSRFToken\": \"" in html


def test_html_responses_vary_on_hx_request(client):
    assert "HX-Request" in client.get("/").headers["Vary"]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_responses_are_compressed(client, encoding):
    response = client.get("/static/vendor/htmx.min.js", headers={"Accept-Encoding": encoding})
    assert response.headers["Content-Encoding"] == encoding
    assert len(response.data) < 20 * 1024  # ~51 KB raw


def test_picker_fragment_for_a_whole_province_is_under_5_kb(client):
    response = client.get("/dia-ban/xa?field=o&o_province=79", headers={"HX-Request": "true", "Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br" and len(response.data) < 5 * 1024


@pytest.mark.parametrize("path,status,text", [
    ("/khong-co-trang-nay", 404, "Không tìm thấy trang"),
    ("/quan-tri/tai-khoan/999/mat-khau", 302, None),
])
def test_friendly_error_pages(client, path, status, text):
    response = client.get(path)
    assert response.status_code == status
    if text:
        body = response.get_data(as_text=True)
        assert text in body and '<html lang="vi">' in body


def test_403_page_is_vietnamese(client, auth, users):
    auth.login("xa1")
    body = client.get("/tinh").get_data(as_text=True)
    assert "Không có quyền truy cập" in body and "Về trang chủ" in body


def test_500_page_is_vietnamese(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/_boom")
    def boom():
        raise RuntimeError("boom")

    response = client.get("/_boom")
    assert response.status_code == 500
    assert "Đã xảy ra lỗi" in response.get_data(as_text=True)


def test_error_fragment_for_htmx(client):
    response = client.get("/khong-co", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 404 and "<html" not in body and "Không tìm thấy trang" in body


def test_manifest_and_icons(client):
    manifest = json.loads(client.get("/static/manifest.webmanifest").data)
    assert manifest["lang"] == "vi" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon["src"]
    assert {"192x192", "512x512"} <= {i["sizes"] for i in manifest["icons"]}


def test_english_is_the_second_locale(client):
    assert "Đăng nhập" in client.get("/dang-nhap").get_data(as_text=True)
    client.get("/ngon-ngu/en")
    body = client.get("/dang-nhap").get_data(as_text=True)
    assert "Sign in" in body and '<html lang="en">' in body
    client.get("/ngon-ngu/vi")
    assert "Đăng nhập" in client.get("/dang-nhap").get_data(as_text=True)


def test_vietnamese_catalogue_is_complete():
    """Every msgid in the code and templates has a Vietnamese translation."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo

    mo = ROOT / "translations/vi/LC_MESSAGES/messages.mo"
    assert mo.exists(), "run `make translations`"
    with open(mo, "rb") as f:
        catalogue = read_mo(f)
    method_map = [("kiemdich/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    missing = []
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalogue.get(message if isinstance(message, str) else message)
        string = entry.string if entry else None
        if not string or (isinstance(string, tuple) and not all(string)):
            missing.append(msgid)
    assert missing == []


def test_login_is_rate_limited_per_ip(app, client, users):
    """The limiter uses Redis when REDIS_URL is set (as in CI), memory otherwise."""
    limiter.reset()
    statuses = [client.post("/dang-nhap", data={"username": f"x{i}", "password": "y"}).status_code
                for i in range(22)]
    assert statuses[:20].count(429) == 0
    assert statuses[-1] == 429
    assert "Quá nhiều yêu cầu" in client.post("/dang-nhap", data={}).get_data(as_text=True)


def test_rate_limiter_storage_is_redis_in_ci(app):
    if not os.environ.get("REDIS_URL"):
        from tests.conftest import skip_or_fail
        skip_or_fail("Redis pass skipped: REDIS_URL is not set")
    storage = limiter._storage  # the backend the limiter really talks to
    assert type(storage).__name__.lower().startswith("redis")
    assert storage.check()  # a real round trip to the server

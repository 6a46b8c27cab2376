"""Bench: bytes on the wire for the first load of the declaration page (/c/<checkpoint code>).

Serves the app and a bare Flask "hello" app (with the same Flask-Compress set-up) on loopback
HTTP servers, fetches each like a phone's first visit (empty cache, Accept-Encoding: br, gzip):
the page, then every stylesheet, script, icon and manifest it links. Counts what came over the
socket: status line, headers and the compressed body. Budget (DESIGN.md): 60 KB for the first
load, 5 KB for an HTMX fragment. Also prints the fragments a traveller meets next (the form
with its errors, the QR result, the status).

    .venv/bin/python bench/declaration_page_size.py
"""
import http.client
import re
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import bench_app, fresh_database  # noqa: E402

BUDGET_PAGE = 60 * 1024
BUDGET_FRAGMENT = 5 * 1024
HEADERS = {"Accept-Encoding": "br, gzip", "User-Agent": "Mozilla/5.0 (Linux; Android 10) bench",
           "Accept-Language": "vi-VN,vi;q=0.9"}


class Links(HTMLParser):
    """What a browser fetches after the HTML: stylesheets, scripts, icons, the manifest."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("rel") in ("stylesheet", "icon", "manifest") and a.get("href"):
            self.urls.append(a["href"])


def size_app(prefix: str):
    """The app on a SQLite file in a fresh instance folder, tables, units and reference data in
    place, served as a phone meets it (rate limits off: the bench fetches fast)."""
    instance = tempfile.mkdtemp(prefix=prefix)
    app = bench_app(f"sqlite:///{instance}/bench.db", instance, SESSION_COOKIE_SECURE=False,
                    RATELIMIT_ENABLED=False)
    with app.app_context():
        fresh_database(migrate=False)
    return app


def compressed_hello(app):
    """A bare Flask "hello" page with the app's compression set-up: the baseline of the sizes."""
    from flask import Flask
    from flask_compress import Compress

    hello = Flask("hello")
    hello.config.update(COMPRESS_ALGORITHM=app.config["COMPRESS_ALGORITHM"],
                        COMPRESS_MIMETYPES=app.config["COMPRESS_MIMETYPES"])
    Compress(hello)
    hello.add_url_rule("/", "hello", lambda: "<!doctype html><title>Hello</title><p>Hello, World!</p>")
    return hello


def serve(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fetch(port, path, method="GET", body=None, headers=None, cookie=""):
    """(bytes on the wire, status, decoded-enough text, response headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = dict(HEADERS, **(headers or {}))
    if cookie:
        h["Cookie"] = cookie
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    raw = r.read()
    head = f"HTTP/1.1 {r.status} {r.reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in r.getheaders()) + "\r\n"
    encoding = r.getheader("Content-Encoding", "")
    text = raw
    if encoding == "br":
        import brotli
        text = brotli.decompress(raw)
    elif encoding == "gzip":
        import gzip
        text = gzip.decompress(raw)
    conn.close()
    return len(head.encode()) + len(raw), r.status, text.decode("utf-8", "replace"), dict(r.getheaders()), encoding


def first_load(port, path, cookie=""):
    """Every response of a first visit (signed in when given a session cookie); returns rows
    (path, wire bytes, encoding), the page text and the session cookie after it."""
    size, status, html, headers, enc = fetch(port, path, cookie=cookie)
    assert status == 200, (path, status)
    rows = [(path, size, enc)]
    links = Links()
    links.feed(html)
    for url in dict.fromkeys(links.urls):
        s, st, _t, _h, e = fetch(port, url, cookie=cookie)
        assert st == 200, (url, st)
        rows.append((url, s, e))
    cookie = headers.get("Set-Cookie", cookie).split(";")[0]
    return rows, html, cookie


def main():
    from kiemdich.extensions import db
    from kiemdich.models import Checkpoint

    app = size_app("kd-bench-")
    with app.app_context():
        db.session.add(Checkpoint(code="BENCH001", name="Chốt QL13 – cửa ngõ Chơn Thành", commune_code="25432",
                                  road="Quốc lộ 13"))
        db.session.commit()

    server, hello_server = serve(app), serve(compressed_hello(app))
    try:
        rows, html, cookie = first_load(server.server_port, "/c/BENCH001")
        hello_rows, _h, _c = first_load(hello_server.server_port, "/")
        total, hello_total = sum(r[1] for r in rows), sum(r[1] for r in hello_rows)
        print("First load of /c/<code> (empty cache, Accept-Encoding: br, gzip), bytes on the wire:")
        for path, size, enc in rows:
            print(f"  {size:>7,}  {enc or 'identity':<8} {path}")
        print(f"  {total:>7,}  total = {total / 1024:.1f} KB; budget 60 KB: {'OK' if total <= BUDGET_PAGE else 'OVER'}"
              f" ({total / BUDGET_PAGE:.0%} of it)")
        print(f"  bare Flask hello page, same compression and server: {hello_total:,} bytes;"
              f" ratio declaration/hello = {total / hello_total:.0f}x")

        # What comes next for a traveller: htmx fragments.
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        hx = {"HX-Request": "true", "X-CSRFToken": token, "Content-Type": "application/x-www-form-urlencoded"}
        port = server.server_port
        size, status, _t, _h, enc = fetch(port, "/c/BENCH001", "POST", body="full_name=", headers=hx, cookie=cookie)
        print("HTMX fragments (budget 5 KB each):")
        print(f"  {size:>7,}  {enc:<8} form with every error (422: {status})"
              f" {'OK' if size <= BUDGET_FRAGMENT else 'OVER'}")
        from urllib.parse import urlencode

        from kiemdich import clock
        form = {"nonce": "0123456789abcdef", "consent_version": "2026-01", "consent": "y",
                "full_name": "Công Tằng Tôn Nữ Thị Hoàng Phương Thảo", "id_type": "cccd",
                "id_number": "079190123456", "birth_year": "1990", "sex": "nu", "phone": "0912345678",
                "nationality": "Việt Nam", "contact": "26743", "contact_street": "12 Lê Lợi", "origin": "26743",
                "dest": "25210", "dest_street": "Tổ 3", "travel_date": clock.today().isoformat(),
                "vehicle_type": "xe_dap", "vaccine_doses": "0"}
        size, status, _t, _h, enc = fetch(port, "/c/BENCH001", "POST", body=urlencode(dict(form, phone="0123")),
                                          headers=hx, cookie=cookie)
        print(f"  {size:>7,}  {enc:<8} form with one error, pickers on Hồ Chí Minh City and Đồng Nai ({status})"
              f" {'OK' if size <= BUDGET_FRAGMENT else 'OVER'}")
        size, status, text, _h, enc = fetch(port, "/c/BENCH001", "POST", body=urlencode(form), headers=hx,
                                            cookie=cookie)
        print(f"  {size:>7,}  {enc:<8} QR result with slip and PNG download ({status})"
              f" {'OK' if size <= BUDGET_FRAGMENT else 'OVER'}")
        personal = re.search(r'data-kd-token="([^"]+)"', text).group(1)
        size, status, _t, _h, enc = fetch(port, "/q/trang-thai", "POST", body=urlencode({"token": personal}),
                                          headers=hx, cookie=cookie)
        print(f"  {size:>7,}  {enc:<8} status page with its QR ({status})"
              f" {'OK' if size <= BUDGET_FRAGMENT else 'OVER'}")
        size, status, _t, _h, enc = fetch(port, "/dia-ban/xa?field=dest&dest_province=79&blank=1",
                                          headers={"HX-Request": "true"})
        print(f"  {size:>7,}  {enc:<8} commune list of the largest province (picker, {status})"
              f" {'OK' if size <= BUDGET_FRAGMENT else 'OVER'}")
    finally:
        server.shutdown()
        hello_server.shutdown()


if __name__ == "__main__":
    main()

"""Bench: bytes on the wire for the checkpoint scan screen (/chot/quet) and its fragments.

Serves the app and a bare Flask "hello" app (same Flask-Compress set-up) on loopback HTTP
servers and fetches like a phone's first visit (empty cache, Accept-Encoding: br, gzip): the
page, every stylesheet, script, icon and manifest it links, and the public key and rules that
scan.js asks for at once. The QR decoder must not be in that first load: it is fetched when the
camera starts, or by the service worker in the background for offline use (listed apart).
Budgets (DESIGN.md): 60 KB first load, 5 KB per HTMX fragment. Reuses the fetching helpers of
bench/declaration_page_size.py.

    .venv/bin/python bench/scan_sizes.py
"""
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from declaration_page_size import (BUDGET_FRAGMENT, BUDGET_PAGE, compressed_hello, fetch, first_load,  # noqa: E402
                                   serve, size_app)


def _ok(size, budget):
    return f"{'OK' if size <= budget else 'OVER'} ({size / budget:.0%} of {budget // 1024} KB)"


def main():
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log between the figures
    from kiemdich.accounts.passwords import hash_password
    from kiemdich.declarations import operations as declarations
    from kiemdich.extensions import db
    from kiemdich.models import AreaLevel, Checkpoint, User, UserCheckpoint
    from kiemdich.offline.views import offline_urls
    from tests.factories import DeclarationFactory

    app = size_app("kd-bench-scan-")
    with app.app_context():
        cp = Checkpoint(code="BENCH001", name="Chốt QL13 – cửa ngõ Chơn Thành", commune_code="25432", road="QL13")
        user = User(username="chot", password_hash=hash_password("mat khau bench"), role="checkpoint",
                    full_name="Trần Văn Bảo")
        db.session.add_all([cp, user])
        db.session.flush()
        db.session.add(UserCheckpoint(user_id=user.id, checkpoint_id=cp.id))
        from datetime import date
        db.session.add(AreaLevel(area_code="79", level=4, effective_from=date(2021, 7, 1)))
        people = [DeclarationFactory(full_name="Công Tằng Tôn Nữ Thị Hoàng Phương Thảo",
                                     symptoms=["sot", "ho", "mat_vi_giac"], exposure_case=True) for _ in range(25)]
        db.session.commit()
        tokens = [declarations.token_for(d) for d in people]
    with app.test_request_context():
        keep = offline_urls("checkpoint")

    server, hello_server = serve(app), serve(compressed_hello(app))
    port = server.server_port
    try:
        # Sign in as checkpoint staff (not counted: the scan screen is what a shift opens).
        _s, _st, html, headers, _e = fetch(port, "/dang-nhap")
        cookie = headers.get("Set-Cookie", "").split(";")[0]
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"', html)
        body = urlencode({"username": "chot", "password": "mat khau bench", "csrf_token": csrf.group(1) or csrf.group(2)})
        _s, status, _t, headers, _e = fetch(port, "/dang-nhap", "POST", body=body, cookie=cookie,
                                            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, status
        cookie = headers.get("Set-Cookie", cookie).split(";")[0]

        rows, html, cookie = first_load(port, "/chot/quet", cookie)
        for path in ("/khoa-cong-khai.json", "/quy-tac.json"):  # scan.js asks for these at once
            size, status, _t, _h, enc = fetch(port, path, cookie=cookie)
            rows.append((path, size, enc))
        hello_rows, _h, _c = first_load(hello_server.server_port, "/")
        total, hello_total = sum(r[1] for r in rows), sum(r[1] for r in hello_rows)
        print("First load of /chot/quet (signed in, empty cache, Accept-Encoding: br, gzip), bytes on the wire:")
        for path, size, enc in rows:
            print(f"  {size:>7,}  {enc or 'identity':<8} {path}")
        print(f"  {total:>7,}  total = {total / 1024:.1f} KB; budget: {_ok(total, BUDGET_PAGE)}")
        assert not any("qr-scanner" in r[0] for r in rows), "the decoder must not be in the first load"
        print(f"  bare Flask hello page, same compression and server: {hello_total:,} bytes;"
              f" ratio scan screen/hello = {total / hello_total:.0f}x")

        print("Later, not in the first load: the decoder (when the camera starts, without a native"
              " BarcodeDetector) and what the service worker keeps for offline in the background:")
        later = 0
        loaded = {r[0] for r in rows}
        for url in ["/sw.js"] + [u for u in keep if u not in loaded]:
            size, status, _t, _h, enc = fetch(port, url, cookie=cookie)
            later += size
            print(f"  {size:>7,}  {enc or 'identity':<8} {url}")
        print(f"  {later:>7,}  total = {later / 1024:.1f} KB, once per phone (kept by the service worker)")

        csrf = re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)
        hx = {"HX-Request": "true", "X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded"}
        print("Fragments (budget 5 KB each; a traveller with three symptoms and the longest name):")

        def show(label, path, method="GET", form=None, extra=None):
            size, status, _t, _h, enc = fetch(port, path, method, body=urlencode(form) if form else None,
                                              headers=dict(hx, **(extra or {})), cookie=cookie)
            assert status in (200, 201, 422), (label, status)
            print(f"  {size:>7,}  {enc or 'identity':<8} {label} ({status}) {_ok(size, BUDGET_FRAGMENT)}")

        show("verdict card with the decision form", "/chot/quet/xem", "POST", {"token": tokens[0], "chot": "BENCH001"})
        show("refusal card (forged code)", "/chot/quet/xem", "POST", {"token": tokens[0][:-4] + "AAAA", "chot": "BENCH001"})
        for i, token in enumerate(tokens):
            key = str(uuid.uuid4())
            form = {"token": token, "chot": "BENCH001", "decision": "allow", "test_taken": "rapid", "papers_checked": "1"}
            if i == 0:
                show("passage recorded", "/chot/qua-chot", "POST", form, {"Idempotency-Key": key})
                show("passage replayed (same UUID)", "/chot/qua-chot", "POST", form, {"Idempotency-Key": key})
            else:
                status = fetch(port, "/chot/qua-chot", "POST", body=urlencode(form),
                               headers=dict(hx, **{"Idempotency-Key": key}), cookie=cookie)[1]
                assert status == 201, status
        show("verdict card, already confirmed", "/chot/quet/xem", "POST", {"token": tokens[0], "chot": "BENCH001"})
        show("today's list, page 2 rows", "/chot/hom-nay?trang=2")
        show("lookup by phone", "/chot/quet/tim?" + urlencode({"q": "0912345678", "chot": "BENCH001"}))
    finally:
        server.shutdown()
        hello_server.shutdown()


if __name__ == "__main__":
    main()

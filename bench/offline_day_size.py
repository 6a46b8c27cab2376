"""Bench: what a commune officer's phone keeps for a day offline, for 100 people (issue 16 item 3).

100 people in one commune (50 expected today, 50 under monitoring and due a check), long Vietnamese
names and streets. Signs in as their officer and fetches, like the service worker does, the day
sheet /xa/hom-nay (static/js/offline-day.js asks for it): the bytes it takes in Cache Storage (the
decoded body, which is what the phone stores) and on the wire (Accept-Encoding: br, gzip). Budget:
300 KB stored for 100 people. Baseline from the same run: keeping each of those 100 people's full
detail page /xa/nguoi-den/<code> instead (what visiting them all online would keep).
Sizes, not timings: the figures do not depend on the machine's load.

    .venv/bin/python bench/offline_day_size.py [people]
"""
import re
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from declaration_page_size import size_app  # noqa: E402

BUDGET = 300 * 1024
PEOPLE = int(sys.argv[1]) if len(sys.argv) > 1 else 100
HEADERS = {"Accept-Encoding": "br, gzip", "Accept-Language": "vi-VN,vi;q=0.9"}
NAMES = ["Công Tằng Tôn Nữ Thị Hoàng Phương Thảo", "Nguyễn Văn Bình", "Trần Thị Ngọc Hân", "Lê Hoàng Minh Quân",
         "Phạm Thị Thu Trang", "Hoàng Đức Anh Tuấn", "Võ Thị Kim Ngân", "Đặng Quốc Huy"]


def make_people(n: int) -> list[str]:
    from kiemdich import clock
    from kiemdich.extensions import db
    from tests.factories import ArrivalFactory, PassageFactory, UserFactory

    UserFactory(username="xa1", role="commune", area_codes=["25210"])
    codes = []
    for i in range(n):
        expected = i % 2 == 0
        start = clock.today() - timedelta(days=0 if expected else i % 6 + 1)
        passage = PassageFactory(declaration__full_name=f"{NAMES[i % len(NAMES)]} {i:03d}",
                                 declaration__phone=f"09120{i:05d}",
                                 declaration__dest_street=f"Số {i + 1}, hẻm 12, đường Nguyễn Thị Minh Khai, tổ 3, ấp {i % 9}")
        ArrivalFactory(declaration=passage.declaration, passage=passage,
                       status="expected" if expected else "monitoring", plan_start=start,
                       plan_end=start + timedelta(days=13), test_days=[1, 7],
                       expected_at=clock.utcnow() - timedelta(hours=2 + 24 * (start != clock.today())))
        codes.append(passage.declaration.code)
    db.session.commit()
    return codes


def sizes(client, path: str) -> tuple[int, int, str]:
    """(stored bytes: the decoded body; wire bytes: the compressed body; the decoded text)."""
    response = client.get(path, headers=HEADERS)
    assert response.status_code == 200, (path, response.status_code)
    wire = response.get_data()
    encoding = response.headers.get("Content-Encoding", "")
    if encoding == "br":
        import brotli
        body = brotli.decompress(wire)
    elif encoding == "gzip":
        import gzip
        body = gzip.decompress(wire)
    else:
        body = wire
    return len(body), len(wire), body.decode()


def main():
    app = size_app("kd-bench-day-")
    with app.app_context():
        codes = make_people(PEOPLE)
    client = app.test_client()
    login = client.get("/dang-nhap").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
    client.post("/dang-nhap", data={"username": "xa1", "password": "correct horse battery", "csrf_token": token})

    stored, wire, html = sizes(client, "/xa/hom-nay")
    assert html.count("<template data-person=") == PEOPLE, "the sheet must hold every person"
    full_stored = full_wire = 0
    for code in codes:
        s, w, _ = sizes(client, f"/xa/nguoi-den/{code}")
        full_stored += s
        full_wire += w
    kb = 1024
    print(f"Day sheet /xa/hom-nay for {PEOPLE} people ({PEOPLE // 2 + PEOPLE % 2} expected, {PEOPLE // 2} due a check):")
    print(f"  stored on the phone (Cache Storage, decoded): {stored:>9,} bytes = {stored / kb:6.1f} KB"
          f"  ({stored / PEOPLE:,.0f} B/person)")
    print(f"  on the wire (br/gzip):                        {wire:>9,} bytes = {wire / kb:6.1f} KB")
    verdict = "OK" if stored * 100 / PEOPLE <= BUDGET else "OVER"
    print(f"  budget 300 KB stored for 100 people: {verdict} ({stored * 100 / PEOPLE / BUDGET:.0%} of it, scaled to 100)")
    print(f"Baseline, the same run: their {PEOPLE} full detail pages kept one by one:")
    print(f"  stored: {full_stored:>9,} bytes = {full_stored / kb:7.1f} KB; wire: {full_wire:,} bytes = {full_wire / kb:.1f} KB")
    print(f"  ratio day sheet / full pages: stored {stored / full_stored:.2f}, wire {wire / full_wire:.2f}")


if __name__ == "__main__":
    main()

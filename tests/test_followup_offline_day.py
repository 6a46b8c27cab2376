"""The commune officer's day sheet (/xa/hom-nay), which the service worker keeps for a day offline:
today's expected and due people of the officer's communes only, with their cards and the forms
once, and the headers the service worker reads. The browser side is tests/e2e/test_offline_day.py."""
import re
from datetime import timedelta

from kiemdich import clock
from kiemdich.extensions import db
from tests.factories import HealthCheckFactory
from tests.test_followup import OTHER, make


def test_day_sheet_holds_todays_expected_and_due_people_of_my_communes_only(client, auth, users):
    waiting = make("expected", name="Nguyễn Thị Chờ Đến", phone="0912000101")
    due = make(start=clock.today() - timedelta(days=2), name="Trần Văn Chưa Khám", phone="0912000102")
    checked = make(start=clock.today() - timedelta(days=2), name="Lê Thị Đã Khám", phone="0912000103")
    HealthCheckFactory(arrival=checked, check_date=clock.today())
    make("expected", commune=OTHER, name="Phạm Văn Xã Khác", phone="0912000104")
    make("completed", start=clock.today() - timedelta(days=20), name="Đỗ Văn Xong Rồi", phone="0912000105")
    db.session.commit()
    auth.login("xa1")

    response = client.get("/xa/hom-nay")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    people = re.findall(r'<template data-person="([^"]+)"', html)
    assert sorted(people) == sorted([waiting.declaration.code, due.declaration.code])
    for name in ("Lê Thị Đã Khám", "Phạm Văn Xã Khác", "Đỗ Văn Xong Rồi"):
        assert name not in html
    assert 'data-status="expected"' in html and 'data-status="monitoring"' in html
    # The two forms once, their actions completed by the page for the person opened.
    assert html.count('action="/xac-nhan"') == 1 and html.count('action="/kiem-tra"') == 1
    assert "Tải danh sách hôm nay" in html
    # What the service worker reads: keep it, for whom, for which local day, how many.
    assert response.headers["X-Offline-Page"] == "1"
    assert response.headers["X-Offline-User"] == "xa1"
    assert response.headers["X-Offline-Day"] == clock.today().isoformat()
    assert response.headers["X-Offline-Count"] == "2"
    assert response.headers["Cache-Control"] == "no-store"  # never in the HTTP cache


def test_commune_home_offers_to_keep_todays_lists(client, auth, users):
    auth.login("xa1")
    html = client.get("/xa").get_data(as_text=True)
    assert "data-offline-day-auto" in html and "Tải danh sách hôm nay" in html
    assert 'name="kd-signout" content="/dang-xuat"' in html and "js/offline-day.js" in html


def test_day_sheet_is_for_commune_officers_only(client, auth, users):
    assert client.get("/xa/hom-nay").status_code == 302  # signed out: the sign-in page
    auth.login("chot1")
    assert client.get("/xa/hom-nay").status_code == 403

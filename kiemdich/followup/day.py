"""The commune officer's day sheet (/xa/hom-nay): today's expected and due lists in full, with what
each person's page needs offline, in ONE page the service worker keeps (static/js/offline-day.js
asks for it in the morning). Offline, /xa/nguoi-den/<code> opens this page, which shows that person
with the confirmation and check forms; what is sent there waits in the outbox.

Budget: 300 KB stored for 100 people (bench/offline_day_size.py). A kept detail page is ~12 KB, so
each person gets only a list row and a short card (no history, no ID number: the minimum for a
home visit), and the two forms are in the page once.
"""
from flask import current_app, render_template
from flask_login import current_user

from .. import clock
from ..accounts.auth import role_required
from ..offline.views import offline_page
from . import forms, lists
from .views import _codes, bp

DAY_LISTS = ("expected", "due")
MAX_PEOPLE = 400  # a commune with more than this on one day is not a phone's job


def day_rows(codes, today, now) -> dict[str, list[lists.Row]]:
    """Every row of today's expected and due lists (the lists' own order: red first)."""
    result = {}
    for key in DAY_LISTS:
        rows, number = [], 1
        while len(rows) < MAX_PEOPLE:
            chunk = lists.page(codes, key, today, now, "", number)
            rows += chunk.rows
            if not chunk.has_next:
                break
            number += 1
        result[key] = rows[:MAX_PEOPLE]
    return result


@bp.get("/xa/hom-nay")
@role_required("commune")
@offline_page
def today():
    """The day sheet, kept for offline use; its headers tell the service worker what it holds."""
    now = clock.utcnow()
    day = clock.today(now)
    rows = day_rows(_codes(), day, now)
    people = len({r.code for key in DAY_LISTS for r in rows[key]})
    html = render_template("followup/today.html", rows=rows, today=day, now=now, people=people,
                           sources=forms.OFFICER_SOURCES, symptom_choices=forms.SYMPTOM_CHOICES,
                           values={}, error_form=None, error_field=None, decl=None, base="")
    response = current_app.make_response(html)
    # Read by static/sw.js: how many people, for which local day, for whom (checked on reading).
    response.headers["X-Offline-Day"] = day.isoformat()
    response.headers["X-Offline-Count"] = str(people)
    response.headers["X-Offline-User"] = current_user.username
    return response

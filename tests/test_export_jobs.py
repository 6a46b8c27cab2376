"""Exports larger than KIEMDICH_EXPORT_JOB_ROWS are written by the queue to a file, offered when ready."""
import re

from sqlalchemy import select

from kiemdich.extensions import db
from kiemdich.models import AuditEvent, Checkpoint
from tests.test_exports import passages_at, post_export, sheet


def test_a_large_export_is_queued_then_downloaded_by_its_owner_only(app, client, auth, users):
    app.config["KIEMDICH_EXPORT_JOB_ROWS"] = 2
    checkpoint = db.session.scalar(select(Checkpoint))
    passages_at(checkpoint, 3)
    db.session.commit()
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint="0", start="2021-10-05", end="2021-10-05",
                           fmt="xlsx")
    assert response.status_code == 303  # not streamed by the web worker: the queue writes it
    page_url = response.headers["Location"]
    page = client.get(page_url).get_data(as_text=True)  # immediate mode: the job already ran
    assert "Tệp đã sẵn sàng" in page and "3 dòng" in page
    link = re.search(r'href="([^"]+/tai)"', page).group(1)
    download = client.get(link)
    assert download.status_code == 200
    assert "qua-chot_20211005-20211005.xlsx" in download.headers["Content-Disposition"]
    rows = sheet(download.data)
    assert rows[0][0] == "DANH SÁCH NGƯỜI QUA CHỐT KIỂM DỊCH" and len(rows[7:]) == 3
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export.passages"))
    assert event.after == {"rows": 3, "format": "xlsx"} and event.username == "chot1"

    auth.logout()
    auth.login("super1")
    assert client.get(page_url).status_code == 404
    assert client.get(link).status_code == 404


def test_a_small_export_is_still_streamed_at_once(app, client, auth, users):
    checkpoint = db.session.scalar(select(Checkpoint))
    passages_at(checkpoint, 3)
    db.session.commit()
    auth.login("chot1")
    response = post_export(client, "/xuat/qua-chot", checkpoint="0", start="2021-10-05", end="2021-10-05",
                           fmt="csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"

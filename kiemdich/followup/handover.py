"""Handing a returnee their own status link: by the officer's own SMS, the phone's share sheet
(Zalo and others), or the QR on the officer's screen.

Everyone followed by a commune has a declaration with its public code and token id, drawn when
it was made (on the web, by staff at a checkpoint, or by an import, which routes in the same
transaction). What people imported from a list or declared by staff lacked was the link itself:
it is signed here, freshly, when the officer hands it over. The link works for the whole
monitoring and its grace days (the status page checks the signature only and ends with
traveller.status.link_expired); the token's own window is for passage at a checkpoint only.
Showing the link is audited like revealing an ID number: the link lets anyone holding it read
the person's status and write their daily declaration.
"""
import unicodedata
from urllib.parse import quote

from flask_babel import gettext as _

from .. import audit, qrcodes
from ..declarations.operations import token_for
from ..models import Arrival


def plain(text: str) -> str:
    """Vietnamese without diacritics, case kept: an SMS in the GSM alphabet costs a third of one
    in UCS-2 (160 characters a part instead of 70), and the link alone is ~170 characters."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def status_link(arrival: Arrival) -> str:
    return qrcodes.personal_url(token_for(arrival.declaration))


def message(arrival: Arrival, commune: str) -> str:
    """What the person reads first: who writes, and what to do with the link."""
    return _("Health station of %(commune)s: open this link every day to declare your health "
             "and see your monitoring plan.", commune=commune)


def sms_href(phone: str, body: str) -> str:
    """An sms: link the phone's messaging app opens with the text filled in (RFC 5724)."""
    return f"sms:{phone}?body={quote(body, safe='')}"


def hand_over(arrival: Arrival, user, *, commune: str) -> dict:
    """Everything the hand-over sheet shows; the showing is written to the audit trail."""
    link = status_link(arrival)
    text = message(arrival, commune)
    decl = arrival.declaration
    audit.record("arrival.link_handover", arrival, object_id=decl.code, user=user,
                 area_code=arrival.commune_code, detail=decl.code)
    return {"link": link, "text": text,
            "sms": sms_href(decl.phone, plain(f"{text} {link}")) if decl.phone else None,
            "qr": qrcodes.svg_inline(qrcodes.make(link), _("Personal link of %(name)s", name=decl.full_name))}

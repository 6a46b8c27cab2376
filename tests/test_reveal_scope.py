"""Who may reveal a full ID number (issue 15: branches of the scope rule no test reached).

The rule is privacy.operations.can_see_declaration, the same for lists and for the reveal; each
case is asserted on the rule and through POST /hien-so/<code>, which must write no audit event."""
from datetime import timedelta

from sqlalchemy import func, select

from kiemdich.clock import utcnow
from kiemdich.extensions import db
from kiemdich.models import AuditEvent
from kiemdich.privacy import operations as privacy
from tests.conftest import csrf_token
from tests.factories import CheckpointFactory, DeclarationFactory, PassageFactory

MINE, AREA = "25210", "25417"  # xa1's commune (users fixture); another commune of the province


def reveal(client, decl, page):
    token = csrf_token(client, page)
    return client.post(f"/hien-so/{decl.code}", headers={"HX-Request": "true", "X-CSRFToken": token})


def reveals() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "id.reveal"))


def test_a_commune_officer_cannot_reveal_someone_who_only_passed_a_checkpoint_in_the_commune(client, auth, users):
    """Passing a checkpoint that stands in the commune does not make the traveller the commune's:
    only the destination or an arrival routed there does (supervisors also see passages)."""
    here = CheckpointFactory(commune_code=MINE)
    decl = DeclarationFactory(id_number="079187650001", dest_commune_code=AREA, checkpoint_id=None)
    PassageFactory(declaration=decl, checkpoint=here)
    db.session.commit()
    assert privacy.can_see_declaration(users["commune"], decl) is False
    auth.login("xa1")
    assert reveal(client, decl, "/xa").status_code == 404
    assert reveals() == 0


def test_checkpoint_staff_cannot_reveal_an_expired_code_never_seen_at_their_checkpoint(client, auth, users):
    """A valid personal QR may be checked at any checkpoint; once expired, only travellers who
    declared for or passed the staff's own checkpoint stay visible."""
    other = CheckpointFactory(commune_code=AREA)
    expired = DeclarationFactory(id_number="079187650002", dest_commune_code=AREA, checkpoint_id=other.id,
                                 valid_until=utcnow() - timedelta(hours=1))
    valid = DeclarationFactory(id_number="079187650003", dest_commune_code=AREA, checkpoint_id=other.id)
    db.session.commit()
    staff = users["checkpoint"]
    assert privacy.can_see_declaration(staff, expired) is False
    assert privacy.can_see_declaration(staff, valid) is True
    auth.login("chot1")
    assert reveal(client, expired, "/chot/quet").status_code == 404
    assert reveals() == 0
    response = reveal(client, valid, "/chot/quet")
    assert response.status_code == 200 and "079187650003" in response.get_data(as_text=True)
    assert reveals() == 1

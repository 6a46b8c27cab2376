"""A small province for the authorization matrix and the hostile-input tests: one account per role,
and for each kind of object one inside a role's scope and one outside it (another commune's arrival,
another area's checkpoint, another supervisor's import batch...), plus guessed neighbouring codes."""
import re
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, select

from kiemdich.clock import today, utcnow
from kiemdich.codes import ALPHABET
from kiemdich.declarations.operations import token_for
from kiemdich.extensions import db
from kiemdich.models import MonitoringRule
from kiemdich.rules import operations as rules
from tests.factories import (ArrivalFactory, CheckpointFactory, DeclarationFactory, ImportBatchFactory,
                             ImportRowFactory, PassageFactory, UserFactory)

MINE, AREA, OUTSIDE = "25210", "25417", "26506"  # Phường Đồng Xoài, Xã Nghĩa Trung (Đồng Nai); Vũng Tàu (HCM City)
LABELS = {"labels": ["Họ và tên", "Thời gian qua chốt"], "map": {}}
# Each traveller of the world has a name of its own, so a page can be checked for who it shows.
MARKERS = {"decl_in": "Quách Thị Trongxa", "decl_mon": "Lục Văn Theodoi", "decl_fresh": "Mạc Thị Chuaqua",
           "decl_out": "Khổng Văn Xakhac", "decl_hcm": "Âu Thị Vungtau", "triage_in": "Hứa Văn Nhapmot",
           "triage_out": "Tiêu Thị Nhaphai"}
ROLES = ("anon", "admin", "supervisor", "area_supervisor", "checkpoint", "commune")


def neighbour(code: str) -> str:
    """A guessed code one character away from a real one (what someone walking codes would try)."""
    last = ALPHABET[(ALPHABET.index(code[-1]) + 1) % len(ALPHABET)]
    return code[:-1] + last


@dataclass
class World:
    """Everything the matrix formats its paths with: `"/checkpoints/{cp_mine.id}".format(**world.names)`."""

    users: dict
    names: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.names[name]
        except KeyError:
            raise AttributeError(name) from None


def build_world() -> World:
    """Accounts: admin1; super1 (the whole province 75); super2 (only commune AREA); super9 (HCM City,
    another province's supervisor); chot1 (checkpoint cp_mine); xa1 (commune MINE)."""
    cp_mine = CheckpointFactory(commune_code=MINE, name="Chốt Đồng Xoài")
    cp_area = CheckpointFactory(commune_code=AREA, name="Chốt Nghĩa Trung")
    cp_out = CheckpointFactory(commune_code=OUTSIDE, name="Chốt Vũng Tàu")
    users = {
        "admin": UserFactory(username="admin1", role="admin"),
        "supervisor": UserFactory(username="super1", role="supervisor", area_codes=["75"]),
        "area_supervisor": UserFactory(username="super2", role="supervisor", area_codes=[AREA]),
        "checkpoint": UserFactory(username="chot1", role="checkpoint", checkpoint_ids=[cp_mine.id]),
        "commune": UserFactory(username="xa1", role="commune", area_codes=[MINE]),
    }
    super9 = UserFactory(username="super9", role="supervisor", area_codes=["79"])
    spare = UserFactory(username="xa9", role="commune", area_codes=[AREA])

    # A traveller routed to MINE through cp_mine, and one routed to AREA through cp_area (code expired).
    decl_in = DeclarationFactory(dest_commune_code=MINE, checkpoint_id=cp_mine.id, full_name=MARKERS["decl_in"])
    pass_in = PassageFactory(declaration=decl_in, checkpoint=cp_mine)
    arr_in = ArrivalFactory(declaration=decl_in, passage=pass_in, commune_code=MINE, status="expected")
    decl_out = DeclarationFactory(dest_commune_code=AREA, checkpoint_id=cp_area.id, full_name=MARKERS["decl_out"],
                                  valid_until=utcnow() - timedelta(hours=1))
    pass_out = PassageFactory(declaration=decl_out, checkpoint=cp_area)
    arr_out = ArrivalFactory(declaration=decl_out, passage=pass_out, commune_code=AREA, status="expected")
    decl_hcm = DeclarationFactory(dest_commune_code=OUTSIDE, checkpoint_id=cp_out.id, full_name=MARKERS["decl_hcm"],
                                  valid_until=utcnow() - timedelta(hours=1))
    PassageFactory(declaration=decl_hcm, checkpoint=cp_out)
    decl_fresh = DeclarationFactory(dest_commune_code=MINE, full_name=MARKERS["decl_fresh"])  # valid, not yet seen at any checkpoint
    decl_mon = DeclarationFactory(dest_commune_code=MINE, checkpoint_id=cp_mine.id, full_name=MARKERS["decl_mon"])  # followed since yesterday
    pass_mon = PassageFactory(declaration=decl_mon, checkpoint=cp_mine)
    arr_mon = ArrivalFactory(declaration=decl_mon, passage=pass_mon, commune_code=MINE, status="monitoring",
                             arrived_at=utcnow() - timedelta(days=1), plan_start=today() - timedelta(days=1),
                             plan_end=today() + timedelta(days=6))

    # Import batches at the columns step: super1's at cp_mine, super9's at cp_out; and a written batch
    # of each with a row waiting in triage.
    batch_mine = ImportBatchFactory(uploaded_by_id=users["supervisor"].id, checkpoint_id=cp_mine.id,
                                    mapping=LABELS)
    batch_out = ImportBatchFactory(uploaded_by_id=super9.id, checkpoint_id=cp_out.id,
                                   mapping=LABELS)
    ImportRowFactory(batch=batch_mine, status="new")
    ImportRowFactory(batch=batch_out, status="new")
    done_mine = ImportBatchFactory(uploaded_by_id=users["supervisor"].id, checkpoint_id=cp_mine.id,
                                   status="committed", mapping=LABELS)
    done_out = ImportBatchFactory(uploaded_by_id=super9.id, checkpoint_id=cp_out.id, status="committed",
                                  mapping=LABELS)
    row_in = ImportRowFactory(batch=done_mine, status="triage")
    row_out = ImportRowFactory(batch=done_out, status="triage")
    triage_in = DeclarationFactory(dest_commune_code=None, dest_street="Nơi nào đó", checkpoint_id=cp_mine.id,
                                   full_name=MARKERS["triage_in"],
                                   import_row_id=row_in.id, source="import")
    triage_out = DeclarationFactory(dest_commune_code=None, dest_street="Nơi nào đó", checkpoint_id=cp_out.id,
                                    full_name=MARKERS["triage_out"],
                                    import_row_id=row_out.id, source="import")
    row_in.declaration_id, row_out.declaration_id = triage_in.id, triage_out.id
    db.session.flush()

    draft = rules.copy_version(1, by=users["supervisor"])  # a draft rule version (number 2)
    line_draft = db.session.scalar(select(MonitoringRule).where(MonitoringRule.version == draft).limit(1))
    line_v1 = db.session.scalar(select(MonitoringRule).where(MonitoringRule.version == 1).limit(1))
    db.session.commit()

    names = {name: obj for name, obj in locals().items() if not name.startswith("_") and name != "names"}
    max_cp = db.session.scalar(select(func.max(CheckpointFactory._meta.model.id)))
    max_user = max(u.id for u in [*users.values(), super9, spare])
    names |= {
        "token_in": token_for(decl_in), "token_fresh": token_for(decl_fresh), "token_mon": token_for(decl_mon),
        "tampered": _tamper(token_for(decl_in)),
        "cp_guess": SimpleNamespace(id=max_cp + 1, code=neighbour(cp_mine.code)),
        "user_guess": SimpleNamespace(id=max_user + 1),
        "code_guess": neighbour(decl_in.code), "batch_guess": SimpleNamespace(id=done_out.id + 1),
        "row_guess": SimpleNamespace(id=row_out.id + 1), "line_guess": SimpleNamespace(id=line_v1.id + 1000),
        "admin": users["admin"], "super1": users["supervisor"], "chot1": users["checkpoint"],
        "xa1": users["commune"], "super2": users["area_supervisor"],
    }
    return World(users=users, names=names)


def _tamper(token: str) -> str:
    """The same token with one character of its payload changed: the signature no longer matches."""
    i = len(token) // 3
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]


def sign_in(client, user) -> None:
    """Put `user` in the client's session as the sign-in form does (without paying argon2 each time;
    test_injected_session_equals_a_real_sign_in checks the two are the same)."""
    from kiemdich.accounts.operations import start_session

    token = start_session(user, 12)  # the server-side session the form opens
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session["sid"] = token
        session["signed_in"] = session["seen"] = utcnow().timestamp()
        session.permanent = True


HX_CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


def csrf_for(client) -> str:
    """A valid CSRF token of this client's session (signed in or not)."""
    info = client.get("/dong-bo/phien")
    if info.status_code == 200:
        return info.get_json()["csrf"]
    match = HX_CSRF.search(client.get("/dang-nhap").get_data(as_text=True))
    assert match, "no CSRF token on the sign-in page"
    return match.group(1)


UNTOUCHED = {"admin_unit", "alembic_version"}  # loaded once per backend; no form writes them


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (the units aside), to prove a refused request changed nothing:
    not only the number of rows, also what they hold."""
    db.session.rollback()  # read what is committed, with a fresh snapshot on PostgreSQL
    result = {}
    for table in db.metadata.sorted_tables:
        if table.name in UNTOUCHED:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        result[table.name] = [tuple(row) for row in db.session.execute(select(table).order_by(*order))]
    db.session.rollback()
    return result


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]

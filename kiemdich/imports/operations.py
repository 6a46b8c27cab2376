"""Imports as plain functions: read a file into rows, dry run, commit in one transaction, triage.

The uploaded file is read once into ImportRow (its cells by column name), so every later step,
on whichever node serves it, works from the database and never from a file on one machine.
"""
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache

from flask import current_app
from sqlalchemy import func, insert, or_, select, text, update

from .. import audit, clock, persons
from ..accounts.scope import commune_codes
from ..clock import LOCAL, utcnow
from ..codes import new_codes
from ..extensions import db
from ..followup.operations import route_arrival
from ..rules.plan import Plan, PlanCache
from ..models import (AdminUnit, Arrival, ArrivalEvent, Checkpoint, Declaration, ImportAnalysis, ImportBatch,
                      ImportProfile, ImportRow, Passage, User)
from ..text import fold, nfc, normalise_phone
from . import analysis, values
from .addresses import Resolution, Resolver, below_commune
from .copying import copy_rows, new_ids, uuid4_hex, uuid_text
from ..ops.metrics import passages_inserted
from .followed import link_followed
from .header import FIELDS, IGNORE, Header, find_header, parse_upload  # noqa: F401  (parse_upload: here too)
from .reader import FileProblem, Table

CHUNK = 2000
PROGRESS_EVERY = 2000
PROBLEM_STATUSES = ("duplicate", "triage", "invalid")


class ImportFailure(ValueError):
    """A step that cannot be done now; the message is shown to the user."""


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def previous_imports(digest: str, *, exclude: int | None = None) -> list[ImportBatch]:
    """Batches of the same file that were read before (a re-upload is warned about)."""
    stmt = select(ImportBatch).where(ImportBatch.file_hash == digest,
                                     ImportBatch.status.notin_(("failed", "cancelled", "refused")))
    if exclude:
        stmt = stmt.where(ImportBatch.id != exclude)
    return list(db.session.scalars(stmt.order_by(ImportBatch.created_at)))


# ---------------------------------------------------------------- reading


def _jsonable(cell):
    kind = type(cell)
    if kind is str:  # most cells, then numbers: their type first (a million calls for 100,000 rows)
        return cell.strip()
    if kind is float or kind is int:
        return cell
    if isinstance(cell, datetime):
        return cell.replace(tzinfo=None).isoformat(timespec="seconds")
    if hasattr(cell, "isoformat"):  # date, time
        return cell.isoformat()
    if isinstance(cell, str):
        return cell.strip()
    return cell


def clean_filename(name: str | None) -> str:
    """The file's own name, without the folders a browser or a script may send with it
    ("C:\\Users\\...\\x.xlsx", "../../x.csv") and without control characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] if name not in ("", ".", "..") else "tep"


def create_batch(filename: str, data: bytes, *, user, checkpoint_id: int | None = None) -> ImportBatch:
    """A batch for an uploaded file, before it is read (reading may run in the background)."""
    batch = ImportBatch(filename=clean_filename(filename), file_hash=file_hash(data), status="reading",
                        uploaded_by_id=getattr(user, "id", None), checkpoint_id=checkpoint_id)
    db.session.add(batch)
    db.session.flush()
    audit.record("import.upload", batch, user=user, detail=f"{batch.filename} sha256={batch.file_hash}",
                 after={"size": len(data)})
    return batch


def store_rows(batch: ImportBatch, table: Table, header: Header, *, profile: ImportProfile | None = None,
               progress=None) -> int:
    """One ImportRow per data row (raw cells by column name); blank and total rows are skipped."""
    mapping = dict(header.mapping)
    if profile:
        mapping.update({label: fld for label, fld in profile.mapping.items() if label in mapping})
    batch.mapping = {"labels": header.labels, "map": mapping, "kind": table.kind, "named": table.named,
                     "header_row": table.row_number(header.index),
                     "checkpoints": dict(profile.checkpoints or {}) if profile else {}}
    batch.profile_id = profile.id if profile else None
    pending, stored = [], 0
    for index, cells in table.rows_from(header.index + 1):
        if values.is_blank_or_total(cells):
            continue
        number = table.row_number(index)
        data_cells = {label: _jsonable(cells[i]) for i, label in enumerate(header.labels)
                      if i < len(cells) and cells[i] not in ("", None)}
        pending.append({"batch_id": batch.id, "row_number": number, "data": data_cells,
                        "status": "new", "errors": []})
        stored += 1
        if len(pending) >= CHUNK:
            _insert_rows(pending)
            pending = []
            if progress:
                progress(stored)
    if pending:
        _insert_rows(pending)
    drop_readings([batch.id])  # readings of rows read before (a read resumed): not of these
    if db.engine.dialect.name == "postgresql":
        # Fresh statistics (this transaction's rows count): else the planner, believing the table
        # small, fetches and sorts every row of the batch for each chunk of the dry run and commit
        # instead of walking ix_import_row_batch_id_row_number.
        db.session.execute(text("ANALYZE import_row"))
    batch.total_rows = stored
    batch.processed_rows = 0
    batch.status = "uploaded"
    return stored


def _insert_rows(rows: list[dict]) -> None:
    if db.engine.dialect.name == "postgresql":
        copy_rows(ImportRow.__table__, rows)
    else:
        db.session.execute(insert(ImportRow.__table__), rows)


# ---------------------------------------------------------------- analysing


@dataclass
class Context:
    """What a dry run or commit needs besides the rows: scope, checkpoints, resolver, known passages."""

    home: str
    user: User | None
    default_checkpoint: int | None
    checkpoints: dict = field(default_factory=dict)  # folded name or code -> id
    named: dict = field(default_factory=dict)  # folded name in the file -> id, chosen in the checkpoints step
    allowed: set = field(default_factory=set)
    resolver: Resolver | None = None
    known: dict = field(default_factory=dict)  # (person, minute) -> checkpoint ids already in the database
    window: tuple | None = None  # the period whose passages are in `known`
    batch_id: int | None = None
    plans: PlanCache = field(default_factory=PlanCache)
    token_hours: int = 72


def build_context(batch: ImportBatch, user) -> Context:
    home = current_app.config["KIEMDICH_PROVINCE"]
    stmt = select(Checkpoint)
    if user is not None and user.role != "admin":
        stmt = stmt.where(Checkpoint.commune_code.in_(commune_codes(user)))
    visible = list(db.session.scalars(stmt))
    ctx = Context(home=home, user=user, default_checkpoint=batch.checkpoint_id,
                  resolver=Resolver.load(home),
                  token_hours=current_app.config.get("KIEMDICH_TOKEN_VALID_HOURS", 72))
    for cp in visible:
        ctx.allowed.add(cp.id)
        ctx.checkpoints[fold(cp.name)] = cp.id
        ctx.checkpoints[cp.code.lower()] = cp.id
    if batch.checkpoint_id and batch.checkpoint_id not in ctx.allowed:
        raise ImportFailure("checkpoint")
    for name, cp in ((batch.mapping or {}).get("checkpoints") or {}).items():
        if cp in ctx.allowed:
            ctx.named[fold(name)] = cp
    return ctx


def person_keys(id_number: str, name_folded: str, phone: str) -> tuple[str, ...]:
    """Who a row is about: the ID number, and name + phone; either one identifies the person (a passage
    list may carry only one of them, and a birth year is often missing)."""
    keys = []
    if id_number:
        keys.append(f"id:{id_number}")
    if name_folded and phone:
        keys.append(f"np:{name_folded}|{phone}")
    return tuple(keys)


def minute(moment_utc: datetime) -> str:
    """A passage time to the minute, in UTC without zone: a list shows 08:30 for a scan at 08:30:27."""
    if moment_utc.tzinfo is not None:
        moment_utc = moment_utc.astimezone(timezone.utc).replace(tzinfo=None)
    return moment_utc.replace(second=0, microsecond=0).isoformat(timespec="minutes")


def ensure_known(ctx: Context, start: datetime, end: datetime) -> None:
    """Load the passages of [start, end] (a day either side: a device offline for hours sends its
    passages late) that are not loaded yet; chunks of a list in time order load each period once."""
    lo, hi = start - timedelta(days=1), end + timedelta(days=1)
    if ctx.window is None:
        load_known(ctx, lo, hi)
        ctx.window = (lo, hi)
        return
    a, b = ctx.window
    if lo < a:
        load_known(ctx, lo, a)
    if hi > b:
        load_known(ctx, b, hi)
    ctx.window = (min(lo, a), max(hi, b))


def load_known(ctx: Context, start: datetime, end: datetime) -> None:
    """Person/minute keys of the passages already recorded from start to end, at any checkpoint (the
    wizard's checkpoint choice must not decide what is a duplicate); not those this batch writes."""
    stmt = (select(Declaration.id_number, Declaration.search_name, Declaration.phone,
                   Passage.checkpoint_id, Passage.client_ts, Passage.server_ts)
            .join(Passage, Passage.declaration_id == Declaration.id)
            .where(Passage.server_ts >= start, Passage.server_ts <= end))
    if ctx.batch_id is not None:
        stmt = stmt.where(or_(Declaration.import_row_id.is_(None), ~Declaration.import_row_id.in_(
            select(ImportRow.id).where(ImportRow.batch_id == ctx.batch_id))))
    rows = db.session.execute(stmt)
    for id_number, name, phone, cp, client_ts, server_ts in rows:
        # The time a list shows is the device's (client_ts) when there is one, as exports write it.
        at = minute(client_ts or server_ts)
        for key in person_keys(id_number, name, phone):
            ctx.known.setdefault((key, at), set()).add(cp)


@dataclass
class Parsed:
    """One row after the rules: its status, problems, and what would be written."""

    row_id: int
    number: int
    status: str = "new"
    errors: list = field(default_factory=list)
    record: dict = field(default_factory=dict)
    checkpoint_id: int | None = None
    moment: datetime | None = None  # UTC
    commune_code: str | None = None
    transit: bool = False
    decision: str = "allow"
    instruction: int | None = None
    note: str = ""
    keys: tuple = ()  # (person, minute) pairs that identify this passage
    own_checkpoint: int | None = None  # the checkpoint the row itself names (None: the wizard's choice)
    past: bool = False  # its monitoring window was over before the import
    plan: Plan | None = None


@lru_cache(maxsize=4096)
def _below(dest_text: str, how: str) -> str:
    """below_commune per distinct destination (it depends only on the text and how it was resolved)."""
    return below_commune(dest_text, Resolution(how=how))


_fold = lru_cache(maxsize=1024)(fold)  # checkpoint names: a handful, repeated on every row


def _text(cell) -> str:
    """values.text, without its memo's call for a column the list lacks (most of a row's fields)."""
    return "" if cell is None else values.text(cell)


@lru_cache(maxsize=8192)
def _utc_minute(local: datetime) -> tuple[datetime, str]:
    """A row's local passage time in UTC, and to the minute (minute()): a list repeats its times."""
    moment = local.replace(tzinfo=LOCAL).astimezone(timezone.utc)
    return moment, minute(moment)


def parse_row(row_id: int, number: int, cells: dict, columns: dict, ctx: Context) -> Parsed:
    """Apply the data rules to one row (no database writes)."""
    p = Parsed(row_id=row_id, number=number)
    err = p.errors
    by_field = {fld: cells.get(label) for fld, label in columns.items() if label}  # one lookup per field
    get = by_field.get

    name = _text(get("full_name"))
    if not name:
        err.append("missing_name")
    # Birth year: used when the list has it; passage lists often do not (identity is name + phone or ID).
    year, birth_date = values.birth(get("birth"))
    id_number, id_type, id_problem = values.id_number(get("id_number"))
    if id_problem == "masked":  # "******123456" as the national app shows it: not an ID, not an error
        id_problem = None
    if id_problem == "rounded":
        err.append("rounded_id")
    elif id_problem:
        err.append("bad_id")
    raw_phone = values.phone_digits(get("phone"))
    phone = normalise_phone(raw_phone) if raw_phone else ""
    if raw_phone and phone is None:
        err.append("bad_phone")
        phone = ""
    if not id_number and not phone and not id_problem and "bad_phone" not in err:
        err.append("missing_contact")

    local = values.moment(get("passed_at"))
    if local is None:
        err.append("missing_time")
    else:
        p.moment, at = _utc_minute(local)
        if p.moment > utcnow() + timedelta(days=1):
            err.append("future_time")

    checkpoint_text = _text(get("checkpoint"))
    if checkpoint_text:
        # The row's own checkpoint, as mapped in the checkpoints step: never replaced by the wizard's choice.
        key = _fold(checkpoint_text)
        p.own_checkpoint = ctx.named.get(key) or ctx.checkpoints.get(key) or ctx.checkpoints.get(
            checkpoint_text.lower())
        if p.own_checkpoint is None:
            err.append("unknown_checkpoint")
        p.checkpoint_id = p.own_checkpoint
    else:
        p.checkpoint_id = ctx.default_checkpoint
        if p.checkpoint_id is None:
            err.append("missing_checkpoint")

    p.instruction, decision = values.instruction(get("instruction"))
    p.decision = decision or "allow"
    p.note = _text(get("note"))[:2000]

    dest_text = _text(get("dest"))
    dest = dict(text=dest_text, province=_text(get("dest_province")),
                district=_text(get("dest_district")), commune=_text(get("dest_commune")))
    origin_text = _text(get("origin"))
    origin_province = _text(get("origin_province"))

    if err:
        p.status = "invalid"
        return p

    if not any(dest.values()):
        resolution = None
        p.errors.append("missing_dest")
    else:
        resolution = ctx.resolver.resolve(**dest)
    origin = ctx.resolver.resolve(text=origin_text, province=origin_province) if (
        origin_text or origin_province) else None
    name_folded = fold(name)
    p.keys = tuple((key, at) for key in person_keys(id_number, name_folded, phone))
    street = _text(get("dest_street"))
    if not street and dest_text:
        # The part below the commune ("Thôn 3", "Tổ 3, ấp 2"): the officer needs it to find the house.
        street = dest_text if not resolution or not resolution.commune_code else _below(dest_text, resolution.how)
    if resolution and resolution.commune_code:
        p.commune_code = resolution.commune_code
        p.transit = not ctx.resolver.is_home(resolution.commune_code)
    elif resolution and resolution.province_code and resolution.province_code != ctx.home:
        p.transit = True
    else:
        p.status = "triage"
        if "missing_dest" not in p.errors:
            p.errors.append("unresolved_dest")
        if not street:
            street = ", ".join(v for v in dest.values() if v)

    p.record = {
        "full_name": nfc(name)[:120], "search_name": name_folded[:120], "id_type": id_type or "",
        "id_number": id_number, "birth_year": year, "birth_date": birth_date, "sex": values.sex(get("sex")) or "khac",
        "phone": phone, "nationality": _text(get("nationality"))[:60] or "Việt Nam",
        "origin_province_code": origin.province_code if origin else None,
        "origin_commune_code": origin.commune_code if origin else None,
        "origin_street": (origin_text or origin_province)[:200],
        "dest_commune_code": p.commune_code, "dest_street": street[:200],
        "travel_date": local.date(), "vehicle_type": values.vehicle(get("vehicle_type")),
        "vehicle_plate": _text(get("vehicle_plate")).upper()[:20],
    }
    return p


def _columns(batch: ImportBatch) -> dict:
    """Field -> column label, from the batch's mapping (first column wins for a field)."""
    out = {}
    for label in batch.mapping.get("labels", []):
        fld = batch.mapping.get("map", {}).get(label)
        if fld and fld != IGNORE and fld in FIELDS and fld not in out:
            out[fld] = label
    return out


def analyse(batch: ImportBatch, ctx: Context, progress=None) -> list:
    """Every row of the batch through the rules and duplicate checks, as one list in row order (for
    small batches and tests; dry runs and commits stream the chunks of analyse_chunks)."""
    return [p for chunk in analyse_chunks(batch, ctx, progress) for p in chunk]


def analyse_chunks(batch: ImportBatch, ctx: Context, progress=None, *, readings: str = ""):
    """The rows of the batch through the rules and duplicate checks, CHUNK rows at a time in row order:
    only one chunk of rows and results is in memory, plus the duplicate keys seen so far.

    readings="keep" (the dry run) stores each chunk's parse_row results (imports/analysis.py);
    readings="reuse" (the commit) takes them instead of parsing the rows again when what they depend
    on is unchanged. The duplicate checks and plans below always run on the current database."""
    columns = _columns(batch)
    ctx.batch_id = batch.id
    stamp = analysis.fingerprint(columns, ctx, batch.total_rows) if readings else ""
    seen: dict[tuple, object] = {}  # (person, minute) -> row number, or {own checkpoint: row number} (_seen_add)
    done, last = 0, -1
    while True:
        parsed = _stored_reading(batch.id, last, stamp) if readings == "reuse" else None
        if parsed is None:
            rows = db.session.execute(select(ImportRow.id, ImportRow.row_number, ImportRow.data)
                                      .where(ImportRow.batch_id == batch.id, ImportRow.row_number > last)
                                      .order_by(ImportRow.row_number).limit(CHUNK)).all()
            if not rows:
                return
            parsed = [parse_row(rid, number, data or {}, columns, ctx) for rid, number, data in rows]
            del rows
            if readings == "keep":
                _keep_reading(batch.id, last, stamp, parsed)
        last = parsed[-1].number
        moments = [p.moment for p in parsed if p.moment and p.status != "invalid"]
        if moments:
            ensure_known(ctx, min(moments), max(moments))
        for p in parsed:
            if p.status != "invalid" and p.keys:
                if any(_same_passage(ctx.known.get(key), p.own_checkpoint) for key in p.keys):
                    p.status, p.errors = "duplicate", ["duplicate_db"]
                else:
                    earlier = next((found for found in (_seen_earlier(seen.get(key), p.own_checkpoint)
                                                        for key in p.keys) if found), None)
                    if earlier:
                        p.status, p.errors = "duplicate", [f"duplicate_file:{earlier}"]
                    else:
                        for key in p.keys:
                            _seen_add(seen, key, p.own_checkpoint, p.number)
        _plan_rows(parsed, ctx.plans)
        done += len(parsed)
        if progress and done % PROGRESS_EVERY == 0:
            progress(done)
        yield parsed


def _keep_reading(batch_id: int, after: int, stamp: str, parsed) -> None:
    """Store a chunk's parse_row results for the commit (before the duplicate checks change them)."""
    data = analysis.encode(parsed)
    if data is not None:
        db.session.execute(insert(ImportAnalysis.__table__).values(
            batch_id=batch_id, after=after, fingerprint=stamp, data=data))


def _stored_reading(batch_id: int, after: int, stamp: str):
    """The dry run's parse_row results of the chunk after row `after`, if read in the same state
    (fingerprint) and not depending on the clock; else None (the chunk is parsed again)."""
    table = ImportAnalysis.__table__
    found = db.session.execute(select(table.c.fingerprint, table.c.data).where(
        table.c.batch_id == batch_id, table.c.after == after)).first()
    if found is None or found[0] != stamp:
        return None
    parsed = analysis.decode(found[1], Parsed)
    return None if not parsed or analysis.clock_dependent(parsed) else parsed


def drop_readings(batch_ids) -> None:
    """Forget the kept readings of these batches (a select or a list of ids): they copy personal data."""
    table = ImportAnalysis.__table__
    db.session.execute(table.delete().where(table.c.batch_id.in_(batch_ids)))


def process(batch: ImportBatch, ctx: Context, *, write: bool = False, progress=None) -> dict:
    """Analyse the batch chunk by chunk: store each row's status and reasons, count, and (write=True)
    write the good rows; returns the counts. The dry run keeps its readings of the rows, the commit
    reuses them (analyse_chunks)."""
    if not write:
        drop_readings([batch.id])
    counts = count([])
    written = 0
    for chunk in analyse_chunks(batch, ctx, None if write else progress, readings="reuse" if write else "keep"):
        _store_statuses(batch.id, chunk)
        for key, value in count(chunk).items():
            counts[key] += value
        if write:
            written = write_rows(batch, ctx, chunk, progress, written=written)
    return counts


def _seen_add(seen: dict, key, own_checkpoint, number: int) -> None:
    """Remember the first row of the file with this person and minute at this checkpoint. A row that
    names no checkpoint (the usual list) is kept as its bare row number, not a dict: 100,000 rows make
    200,000 keys, and a dict each cost 90 MB."""
    found = seen.get(key)
    if found is None:
        seen[key] = number if own_checkpoint is None else {own_checkpoint: number}
    else:
        if not isinstance(found, dict):
            found = seen[key] = {None: found}
        found.setdefault(own_checkpoint, number)


def _seen_earlier(found, own_checkpoint):
    """_same_passage for a value of `seen` (a bare row number stands for {None: row number})."""
    if found is None or isinstance(found, dict):
        return _same_passage(found, own_checkpoint)
    return found  # seen without a checkpoint: the same passage whatever this row names


def _same_passage(found, own_checkpoint):
    """Whether a person seen at this minute (found: checkpoint -> anything) is this row's passage: at the
    checkpoint the row names, or anywhere when the row names none. Returns the match (truthy) or None."""
    if not found:
        return None
    if own_checkpoint is None:
        return next(iter(found.values())) if isinstance(found, dict) else True
    if own_checkpoint in found:
        return found[own_checkpoint] if isinstance(found, dict) else True
    if isinstance(found, dict) and None in found:
        return found[None]
    return None


def _plan_rows(parsed, plans: PlanCache) -> None:
    """The monitoring plan of every arrival to be routed, from its passage date (an old list plans the
    past): a plan whose last day is already over is recorded as past, not as an overdue arrival."""
    today = clock.today()
    for p in parsed:
        if p.status == "new" and p.commune_code and not p.transit and p.decision != "refuse":
            p.plan = _plan(plans, p)
            last = p.plan.self_monitoring_until or p.plan.end or p.plan.start
            p.past = last is not None and last < today


def count(parsed) -> dict:
    counts = {"total": 0, "new": 0, "transit": 0, "duplicate": 0, "triage": 0, "invalid": 0, "past": 0}
    for p in parsed:
        counts["total"] += 1
        counts[p.status] += 1
        if p.status == "new" and p.transit:
            counts["transit"] += 1
        if p.status == "new" and p.past:
            counts["past"] += 1
    return counts


def _store_statuses(batch_id: int, parsed) -> None:
    """Write the chunk's statuses and reasons where they differ from those stored: a row that is no
    longer a problem goes back to "new". The commit finds the dry run's (or a second dry run the
    first's), so it mostly writes nothing, where resetting and rewriting cost ~10,000 row versions twice."""
    if not parsed:
        return
    stored = {row_id: (status, errors, resolved) for row_id, status, errors, resolved in db.session.execute(
        select(ImportRow.id, ImportRow.status, ImportRow.errors, ImportRow.resolved_commune_code)
        .where(ImportRow.batch_id == batch_id, ImportRow.row_number >= parsed[0].number,
               ImportRow.row_number <= parsed[-1].number, ImportRow.status != "new"))}
    changed = [{"id": p.row_id, "status": p.status, "errors": p.errors, "resolved_commune_code": None}
               for p in parsed
               if stored.get(p.row_id, ("new", p.errors if p.status == "new" else None, None))
               != (p.status, p.errors, None)]
    if changed:
        db.session.execute(update(ImportRow), changed)


def dry_run(batch: ImportBatch, user, progress=None) -> dict:
    """Counts and every problem row, written to the batch; no declaration, passage or arrival."""
    if batch.status not in ("uploaded", "analysed", "failed", "analysing"):
        raise ImportFailure("state")
    ctx = build_context(batch, user)
    batch.counts = process(batch, ctx, progress=progress)
    batch.processed_rows = batch.total_rows
    batch.status = "analysed"
    batch.error = ""
    return batch.counts


# ---------------------------------------------------------------- committing


def _insert_keyed(model, rows: list[dict], key: str) -> list[int]:
    """Insert rows and return their ids in the order of rows. PostgreSQL: the ids are drawn from the
    table's sequence and the rows streamed with COPY (one statement for the chunk, no per-row parameter
    round). Elsewhere a plain executemany, then the ids read back by `key`, unique among the rows."""
    if not rows:
        return []
    table = model.__table__
    if db.engine.dialect.name == "postgresql":
        ids = new_ids(table, len(rows))
        copy_rows(table, rows, ids)
        return ids
    db.session.execute(insert(table), rows)
    column = table.c[key]
    found = dict((k, i) for i, k in db.session.execute(
        select(table.c.id, column).where(column.in_([r[key] for r in rows]))).all())
    return [found[r[key]] for r in rows]


def write_rows(batch: ImportBatch, ctx: Context, parsed, progress=None, *, written: int = 0) -> int:
    """Declarations, passages, arrivals for the good rows (triage rows wait for a commune); returns
    the number of rows written so far."""
    good = [p for p in parsed if p.status in ("new", "triage")]
    user_id = getattr(ctx.user, "id", None)
    now = utcnow()
    for start in range(0, len(good), CHUNK):
        chunk = good[start:start + CHUNK]
        declarations = []
        tokens, client_uuids = uuid4_hex(len(chunk)), uuid4_hex(len(chunk))
        for p, code, token in zip(chunk, new_codes(len(chunk)), tokens):
            rec = dict(p.record)
            rec.update(code=code, token_id=token[:16], checkpoint_id=p.checkpoint_id,
                       consent_version="import", source="import", import_row_id=p.row_id,
                       valid_until=p.moment + timedelta(hours=ctx.token_hours), created_at=now,
                       symptoms=[])
            declarations.append(rec)
        # Persons first, so each declaration is written with its person (no UPDATE of 2,000 rows after).
        linked = persons.link_keys({n: persons.keys_of(rec["id_number"], rec["full_name"], rec["birth_year"],
                                                       rec["phone"]) for n, rec in enumerate(declarations)})
        for n, rec in enumerate(declarations):
            rec["person_id"] = linked.get(n)
        decl_ids = _insert_keyed(Declaration, declarations, "import_row_id")
        people = {d: linked[n] for n, d in enumerate(decl_ids) if n in linked}  # (imports/followed.py)
        passages = [{"declaration_id": d, "checkpoint_id": p.checkpoint_id, "user_id": user_id, "kind": "import",
                     "decision": p.decision, "instruction_code": p.instruction, "transit": p.transit,
                     "client_uuid": uuid_text(u), "client_ts": p.moment, "server_ts": p.moment,
                     "note": p.note} for p, d, u in zip(chunk, decl_ids, client_uuids)]
        passage_ids = _insert_keyed(Passage, passages, "client_uuid")
        passages_inserted(db.session, "import", len(passage_ids))
        routed = [(p, d, ps) for p, d, ps in zip(chunk, decl_ids, passage_ids)
                  if p.status == "new" and p.commune_code and not p.transit and p.decision != "refuse"]
        routed = link_followed(routed, people, user_id=user_id, reason=f"import:{batch.id}")
        # Plans start on the passage date (p.plan, from analyse), so an old passage counts its days right.
        # An arrival whose window is already over is written ended (_past_end), its "completed" event after.
        arrival_ids = route_arrivals([(d, ps, p.commune_code, p.moment, p.instruction, p.plan)
                                      for p, d, ps in routed], user_id=user_id, reason=f"import:{batch.id}",
                                     ended=[_past_end(p) if p.past else None for p, _d, _ps in routed],
                                     then=lambda ids: _past_events(ids, [p.past for p, _d, _ps in routed],
                                                                   user_id, now))
        written += len(chunk)
        if progress:
            progress(written)
    return written


def _past_end(p) -> datetime:
    """When the arrival of a row whose monitoring window was over before the import ended: its last day."""
    last = p.plan.self_monitoring_until or p.plan.end or p.plan.start
    return datetime.combine(last, time(23, 59), tzinfo=LOCAL).astimezone(timezone.utc)


def _past_events(arrival_ids, past, user_id, now) -> list[dict]:
    """Arrivals whose monitoring window was over before the list was imported (route_arrivals wrote
    them completed, ended on their last day): kept for history and figures as ended, with the reason,
    never in an officer's lists of things to do. Their "completed" event, after the "routed" one
    (route_arrivals writes both in one COPY); `past` is parallel to arrival_ids."""
    return [{"arrival_id": a, "user_id": user_id, "action": "completed", "from_status": "expected",
             "to_status": "completed", "reason": PAST_REASON, "data": {"imported_at": now.isoformat()}}
            for a, was in zip(arrival_ids, past) if was]


PAST_REASON = "import_past_window"


def _insert_plain(table, rows: list[dict]) -> None:
    """Rows whose ids nobody needs: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if db.engine.dialect.name == "postgresql":
        copy_rows(table, rows)
    else:
        db.session.execute(insert(table), rows)


def _plan(plans: PlanCache, p) -> Plan:
    rec = p.record
    return plans.plan(rec.get("origin_province_code"), rec.get("origin_commune_code"), rec.get("vaccine_doses") or 0,
                      rec.get("last_dose_date"), rec.get("recovered_date"), clock.today(p.moment))


def route_arrivals(items, *, user_id=None, reason="", ended=None, then=None) -> list[int]:
    """Expected arrivals in the destination communes, each with its monitoring plan:
    (declaration id, passage id, commune, when, instruction from the file or None, plan). `ended`,
    parallel to items: None, or when the arrival already ended (written completed, ended then).
    `then(arrival ids)`: more events, written after the "routed" ones in the same statement."""
    if not items:
        return []
    ended = ended or [None] * len(items)
    arrival_ids = _insert_keyed(Arrival, [
        {"declaration_id": d, "passage_id": ps, "commune_code": commune,
         "status": "expected" if end is None else "completed", "ended_at": end,
         "expected_at": when, "measure": plan.measure, "plan_start": plan.start, "plan_end": plan.end,
         "self_monitoring_until": plan.self_monitoring_until, "test_days": list(plan.test_days),
         "needs_approval": plan.needs_approval, "rule_id": plan.rule_id, "rule_version": plan.rule_version,
         "instruction_code": instruction or plan.instruction_code}
        for (d, ps, commune, when, instruction, plan), end in zip(items, ended)], "passage_id")
    events = [{"arrival_id": a, "user_id": user_id, "action": "routed", "from_status": "", "to_status": "expected",
               "reason": reason, "data": {}} for a in arrival_ids]
    _insert_plain(ArrivalEvent.__table__, events + (then(arrival_ids) if then else []))
    return arrival_ids


def commit(batch: ImportBatch, user, progress=None) -> dict:
    """Write the batch in the caller's transaction: the caller commits, or rolls back on any error."""
    if batch.status not in ("analysed", "committing"):
        raise ImportFailure("state")
    ctx = build_context(batch, user)
    # Analysed again while writing: the database may have changed since the dry run.
    counts = process(batch, ctx, write=True, progress=progress)
    drop_readings([batch.id])
    # The staged cells stay as written (the error report, and the address as the list gave it); retention
    # empties them with the declaration.
    db.session.execute(update(ImportRow).where(ImportRow.batch_id == batch.id, ImportRow.status == "new")
                       .values(status="imported"))
    batch.status, batch.counts, batch.error = "committed", counts, ""
    batch.processed_rows, batch.committed_at = batch.total_rows, utcnow()
    audit.record("import.commit", object_type="ImportBatch", object_id=str(batch.id), user=user,
                 after=counts, detail=f"{batch.filename} sha256={batch.file_hash}")
    return counts


# ---------------------------------------------------------------- triage


def triage_rows(user, limit: int = 200, row_id: int | None = None):
    """Rows waiting for a commune, at checkpoints in the user's area, oldest first."""
    stmt = (select(ImportRow, Declaration).join(Declaration, Declaration.import_row_id == ImportRow.id)
            .where(ImportRow.status == "triage").order_by(ImportRow.id))
    if row_id is not None:
        stmt = stmt.where(ImportRow.id == row_id)
    if user.role != "admin":
        stmt = stmt.join(Checkpoint, Checkpoint.id == Declaration.checkpoint_id).where(
            Checkpoint.commune_code.in_(commune_codes(user)))
    return db.session.execute(stmt.limit(limit)).all()


def triage_count(user) -> int:
    stmt = (select(func.count()).select_from(ImportRow)
            .join(Declaration, Declaration.import_row_id == ImportRow.id).where(ImportRow.status == "triage"))
    if user.role != "admin":
        stmt = stmt.join(Checkpoint, Checkpoint.id == Declaration.checkpoint_id).where(
            Checkpoint.commune_code.in_(commune_codes(user)))
    return db.session.scalar(stmt) or 0


def resolve_triage(row: ImportRow, commune_code: str, *, user) -> Arrival:
    """A supervisor picks the commune of an unresolved destination: the arrival is routed there."""
    declaration = db.session.scalar(select(Declaration).where(Declaration.import_row_id == row.id))
    unit = db.session.get(AdminUnit, commune_code)
    home = current_app.config["KIEMDICH_PROVINCE"]
    if row.status != "triage" or declaration is None:
        raise ImportFailure("state")
    if unit is None or unit.kind != "commune" or unit.parent_code != home:
        raise ImportFailure("commune")
    passage = db.session.scalar(select(Passage).where(Passage.declaration_id == declaration.id)
                                .order_by(Passage.id))
    declaration.dest_commune_code = commune_code
    row.status = "imported"
    row.resolved_commune_code = commune_code
    row.errors = []
    arrival = route_arrival(declaration, passage=passage, commune_code=commune_code, user=user,
                            at=passage.server_ts if passage else None)
    db.session.flush()
    audit.record("import.triage", object_type="ImportRow", object_id=str(row.id), user=user,
                 after={"commune": commune_code, "arrival": arrival.id}, area_code=commune_code)
    return arrival


# ---------------------------------------------------------------- profiles and reports


def checkpoint_names(batch: ImportBatch) -> list[tuple[str, int]]:
    """The distinct checkpoint names written in the file's checkpoint column, with their row counts."""
    label = _columns(batch).get("checkpoint")
    if not label:
        return []
    counts: dict[str, int] = {}
    for data in db.session.scalars(select(ImportRow.data).where(ImportRow.batch_id == batch.id)).yield_per(2000):
        name = values.text((data or {}).get(label))
        if name:
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items(), key=lambda item: fold(item[0]))


def suggest_checkpoint(name: str, checkpoints, remembered: dict) -> int | None:
    """The checkpoint a name in the file most likely means: as remembered (this batch or its profile),
    the same name or code, else the most similar name ignoring case and diacritics (if similar enough)."""
    from difflib import SequenceMatcher

    key = fold(name)
    known = {cp.id for cp in checkpoints}
    if remembered.get(key) in known:
        return remembered[key]
    for cp in checkpoints:
        if fold(cp.name) == key or cp.code.lower() == name.lower():
            return cp.id
    best, score = None, 0.0
    for cp in checkpoints:
        ratio = SequenceMatcher(None, key, fold(cp.name)).ratio()
        if ratio > score:
            best, score = cp.id, ratio
    return best if score >= 0.6 else None


def map_checkpoints(batch: ImportBatch, chosen: dict[str, int]) -> None:
    """Record which checkpoint each name of the file stands for (also in the batch's profile)."""
    remembered = {fold(name): cp for name, cp in chosen.items()}
    batch.mapping = {**batch.mapping, "checkpoints": remembered, "step": "dry_run"}
    if batch.profile_id:
        profile = db.session.get(ImportProfile, batch.profile_id)
        profile.checkpoints = {**(profile.checkpoints or {}), **remembered}


def save_profile(name: str, mapping: dict, *, user) -> ImportProfile:
    """Save (or replace) a named column mapping for files from one source."""
    name = nfc(name)[:120]
    profile = db.session.scalar(select(ImportProfile).where(ImportProfile.name == name))
    clean = {label: fld for label, fld in mapping.items() if fld in FIELDS or fld == IGNORE}
    if profile is None:
        profile = ImportProfile(name=name, mapping=clean, created_by_id=user.id)
        db.session.add(profile)
    else:
        profile.mapping = clean
    db.session.flush()
    audit.record("import.profile", profile, user=user, after={"name": name})
    return profile


def rejected_rows(batch: ImportBatch):
    """The rows the error report repeats: every row not imported as it was (invalid, duplicate, and
    those waiting for a supervisor to choose their commune), in file order."""
    return db.session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id,
                                                      ImportRow.status.in_(REPORTED))
                              .order_by(ImportRow.row_number)).yield_per(1000)


REPORTED = ("invalid", "duplicate", "triage")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}:\d{2})?$|^\d{2}:\d{2}:\d{2}$")


def as_written(batch: ImportBatch, value):
    """A stored cell as the file had it: dates and times of a workbook were stored as ISO text and go
    back to the report as dates (a CSV's cells were text, and stay text)."""
    if batch.mapping.get("kind", "xlsx") == "csv" or not isinstance(value, str) or not _ISO.match(value):
        return value
    try:
        if "T" in value:
            return datetime.fromisoformat(value)
        if ":" in value:
            return time.fromisoformat(value)
        return datetime.fromisoformat(value).date()
    except ValueError:
        return value


def report_rows(batch: ImportBatch, describe):
    """The error report's rows: the row number, its cells as written, and why (describe(errors))."""
    labels = batch.mapping.get("labels", [])
    for row in rejected_rows(batch):
        data = row.data or {}
        yield [row.row_number] + [as_written(batch, data.get(label, "")) for label in labels] + [describe(row.errors)]


def problem_rows(batch: ImportBatch, limit: int = 500):
    return list(db.session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id,
                                                           ImportRow.status.in_(PROBLEM_STATUSES))
                                   .order_by(ImportRow.row_number).limit(limit)))


__all__ = ["FileProblem", "Table", "create_batch", "dry_run", "commit", "resolve_triage",
           "save_profile", "parse_upload", "store_rows", "rejected_rows", "problem_rows", "previous_imports", "triage_rows"]

"""The dry run's reading of the rows, kept for the commit.

A commit runs the rules again because the database may have changed since the dry run. Most of
that work is parse_row, whose result depends only on the row's cells and on what the fingerprint
below names: the column mapping, the checkpoints the user may use and the names mapped to them,
the batch's checkpoint, the province and its units, and the code that reads them. When the
fingerprint is unchanged the commit decodes the dry run's results instead of parsing every row
again; the duplicate checks and monitoring plans (passages recorded since, rules, today's date)
always run again on the current database.

One more input moves by itself: the clock. A row whose time was in the future at the dry run
("future_time") may no longer be, so a chunk holding one is parsed again; a row that was not in
the future stays so.
"""
import hashlib
import json
import zlib
from datetime import date, datetime
from functools import lru_cache
from operator import attrgetter, itemgetter
from pathlib import Path

FORMAT = 1  # bump when the layout of a row below changes
# Parsed.record, in the order parse_row builds it: a row is stored as a list of values.
RECORD = ("full_name", "search_name", "id_type", "id_number", "birth_year", "birth_date", "sex", "phone",
          "nationality", "origin_province_code", "origin_commune_code", "origin_street", "dest_commune_code",
          "dest_street", "travel_date", "vehicle_type", "vehicle_plate")
DATES = frozenset(n for n, name in enumerate(RECORD) if name in ("birth_date", "travel_date"))
# The modules whose rules decide what parse_row returns: a deploy between the dry run and the
# commit that changes one of them must not reuse results read by the old code.
SOURCES = ("imports/operations.py", "imports/values.py", "imports/addresses.py", "imports/header.py",
           "imports/analysis.py", "text.py")


@lru_cache(maxsize=1)
def code_version() -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(str(FORMAT).encode())
    for name in SOURCES:
        digest.update((root / name).read_bytes())
    try:
        from importlib.metadata import version
        digest.update(version("vietnamadminunits").encode())
    except Exception:  # noqa: BLE001  not installed as a distribution: the sources still count
        pass
    return digest.hexdigest()


def fingerprint(columns: dict, ctx, total_rows: int) -> str:
    """What parse_row's results depend on besides the cells and the clock (see the module's doc)."""
    units = ctx.resolver.units if ctx.resolver is not None else {}
    state = {
        "code": code_version(), "columns": sorted(columns.items()), "home": ctx.home,
        "default": ctx.default_checkpoint, "checkpoints": sorted(ctx.checkpoints.items()),
        "named": sorted(ctx.named.items()), "rows": total_rows,
        "units": hashlib.sha256(json.dumps(sorted(units.items()), default=list).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


# Parsed's fields up to own_checkpoint, in its order: a stored row is Parsed(*row) once decoded.
FIELDS = ("row_id", "number", "status", "errors", "record", "checkpoint_id", "moment", "commune_code", "transit",
          "decision", "instruction", "note", "keys", "own_checkpoint")
_fields = attrgetter(*FIELDS)
_record = itemgetter(*RECORD)
RECORD_AT, MOMENT_AT, KEYS_AT = FIELDS.index("record"), FIELDS.index("moment"), FIELDS.index("keys")


def encode(parsed) -> bytes | None:
    """parse_row's results of one chunk (before the duplicate checks), compact; None when a row
    does not have the expected shape (then nothing is kept and the commit parses the chunk)."""
    iso: dict = {}  # a chunk repeats its moments and dates: each written once as text
    out = []
    for p in parsed:
        if p.plan is not None or p.past:
            return None  # already planned: not parse_row's output
        row = list(_fields(p))
        moment = row[MOMENT_AT]
        if moment is not None:
            row[MOMENT_AT] = iso.get(moment) or iso.setdefault(moment, moment.isoformat())
        rec = p.record
        if rec:
            if len(rec) != len(RECORD):
                return None
            try:
                values = list(_record(rec))
            except KeyError:
                return None
            for n in DATES:
                day = values[n]
                if day is not None:
                    values[n] = iso.get(day) or iso.setdefault(day, day.isoformat())
            row[RECORD_AT] = values
        else:
            row[RECORD_AT] = None
        out.append(row)
    return zlib.compress(json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode(), 1)


def decode(data: bytes, make) -> list:
    """The chunk encode() stored, as Parsed rows (`make`: the Parsed class)."""
    moments: dict = {}
    days: dict = {}
    minutes: dict = {}
    out = []
    for row in json.loads(zlib.decompress(data)):
        moment = row[MOMENT_AT]
        if moment is not None:
            at = moments.get(moment)
            if at is None:
                at = moments[moment] = datetime.fromisoformat(moment)
            row[MOMENT_AT] = at
        values = row[RECORD_AT]
        if values is not None:
            for n in DATES:
                day = values[n]
                if day is not None:
                    found = days.get(day)
                    if found is None:
                        found = days[day] = date.fromisoformat(day)
                    values[n] = found
            row[RECORD_AT] = dict(zip(RECORD, values))
        else:
            row[RECORD_AT] = {}
        # One string per minute, as parse_row's memo gives: the duplicate keys of the whole batch
        # (two per row) hold them until the end, and 200,000 copies cost ~12 MB.
        row[KEYS_AT] = tuple((key, minutes.setdefault(at, at)) for key, at in row[KEYS_AT])
        out.append(make(*row))
    return out


def clock_dependent(parsed) -> bool:
    """Whether a row's reading may differ later for the clock alone (see the module's doc)."""
    return any("future_time" in p.errors for p in parsed)


__all__ = ["code_version", "fingerprint", "encode", "decode", "clock_dependent"]

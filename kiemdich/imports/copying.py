"""COPY of many rows into PostgreSQL in the session's transaction (an import writes 100,000 rows of
several tables): the per-value work kept small, as it runs a million times."""
import json
import os
from datetime import timezone
from operator import itemgetter

from sqlalchemy import JSON, func, select, text
from sqlalchemy.types import TypeDecorator

from ..extensions import db
from ..models.types import UTCDateTime


def copy_rows(table, rows: list[dict], ids: list[int] | None = None) -> None:
    """COPY rows into a PostgreSQL table in the session's transaction, as insert(table) would write
    them: the columns' Python defaults for what a row leaves out, their types' bind processing (aware
    UTC datetimes, JSON); columns without a default that no row names keep their server default."""
    dialect = db.engine.dialect
    names = set(rows[0])
    given, made = [], []  # (column, convert): named by the rows; (column, make, convert): defaulted
    for c in table.c:
        if c.primary_key or (c.name not in names and c.default is None):
            continue
        if isinstance(c.type, JSON):
            convert = _json
        elif isinstance(c.type, UTCDateTime):
            convert = _utc_converter(c.type, dialect)
        elif isinstance(c.type, TypeDecorator):
            convert = (lambda t: lambda value: t.process_bind_param(value, dialect))(c.type)
        else:
            convert = None
        if c.name in names:
            given.append((c, convert))
        elif c.default.is_scalar:
            made.append((c, (lambda value: lambda: value)(c.default.arg), convert))
        else:
            made.append((c, (lambda fn: lambda: fn(None))(c.default.arg), convert))
    # The named columns of a row in one C call (a row missing one raises KeyError, as row[name] did).
    get = itemgetter(*(c.name for c, _convert in given)) if given else (lambda row: ())
    single = len(given) == 1
    converted = [(i, convert) for i, (_c, convert) in enumerate(given) if convert]
    defaulted = [(c.name, make, convert) for c, make, convert in made]
    columns = [c for c, _convert in given] + [c for c, _make, _convert in made]
    if ids is not None:
        columns.append(table.primary_key.columns[0])
    cursor = db.session.connection().connection.driver_connection.cursor()
    column_list = ", ".join(f'"{c.name}"' for c in columns)
    with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
        write = copy.write_row
        for n, row in enumerate(rows):
            out = [get(row)] if single else list(get(row))
            for i, convert in converted:
                out[i] = convert(out[i])
            for name, make, convert in defaulted:
                value = row[name] if name in row else make()
                out.append(convert(value) if convert else value)
            if ids is not None:
                out.append(ids[n])
            write(out)


def new_ids(table, count: int) -> list[int]:
    """`count` ids drawn from the table's id sequence, in order. The sequence is named once per
    process: pg_get_serial_sequence() in the statement ran for every one of the 2,000 rows (9 ms a
    chunk against 1 ms, a second per 100,000-row import)."""
    sequence = _SEQUENCES.get(table.name)
    if sequence is None:
        sequence = _SEQUENCES[table.name] = db.session.scalar(
            select(func.pg_get_serial_sequence(table.name, "id")))
    return list(db.session.scalars(text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)"),
                                   {"sequence": sequence, "count": count}))


_SEQUENCES: dict[str, str] = {}  # table -> its id sequence (fixed by the schema)


def _json(value):
    """JSON as SQLAlchemy's JSON type binds it (json.dumps); the empty list and dict, that most
    imported rows carry, without a call."""
    if value is None:
        return None
    if not value and type(value) in (list, dict):
        return "[]" if type(value) is list else "{}"
    return json.dumps(value)


def _utc_converter(column_type, dialect):
    """UTCDateTime.process_bind_param once per distinct moment of the COPY: a chunk repeats its
    moments (a passage's time is its client_ts, server_ts and its arrival's expected_at; created_at
    is one `now`). Naive datetimes never match an aware key, and raise as before."""
    done: dict = {}
    bind = column_type.process_bind_param
    utc = timezone.utc

    def convert(value):
        if value is None:
            return None
        try:
            return done[value]
        except KeyError:
            # Already in UTC (utcnow() defaults, a distinct value per row): what bind() returns, cheaper.
            out = done[value] = value.replace(tzinfo=None) if value.tzinfo is utc else bind(value, dialect)
            return out
        except TypeError:  # unhashable: not a datetime, let the type say so
            return bind(value, dialect)
    return convert


def uuid4_hex(count: int) -> list[str]:
    """`count` random version-4 UUIDs as 32 hex digits, as uuid.uuid4().hex gives them (an import
    draws two per row; uuid.UUID's constructor was a second per 100,000 rows)."""
    data = bytearray(os.urandom(16 * count))
    for n in range(6, 16 * count, 16):
        data[n] = (data[n] & 0x0F) | 0x40  # version 4
        data[n + 2] = (data[n + 2] & 0x3F) | 0x80  # RFC 4122 variant
    text = data.hex()
    return [text[n:n + 32] for n in range(0, 32 * count, 32)]


def uuid_text(hex32: str) -> str:
    """str(uuid.UUID(hex32)): the 8-4-4-4-12 form."""
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


__all__ = ["copy_rows", "new_ids", "uuid4_hex", "uuid_text"]

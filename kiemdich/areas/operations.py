"""Loading units into the generic tree table, and searching it without diacritics."""
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import AdminUnit
from ..text import fold, nfc

DEFAULT_DATASET = "vn2025"


def upsert_units(rows: Iterable[dict], dataset: str = DEFAULT_DATASET) -> tuple[int, int]:
    """Insert or update units given as dicts (code, name, kind, division, parent_code).

    Parents must come before children. Idempotent: a second run changes nothing.
    Returns (inserted, updated). Codes of datasets other than the default are
    prefixed with the dataset ("vn2021:25417") so old and new units never collide.
    """
    _CHOICES.clear()  # the pickers' cached lists of this process

    def key(code):
        return code if dataset == DEFAULT_DATASET or not code else f"{dataset}:{code}"

    existing = {u.code: u for u in db.session.scalars(select(AdminUnit).where(AdminUnit.dataset == dataset))}
    inserted = updated = 0
    for row in rows:
        code = key(str(row["code"]).strip())
        values = {
            "name": nfc(row["name"]),
            "kind": row["kind"],
            "division": row.get("division", ""),
            "parent_code": key(str(row.get("parent_code") or "").strip()) or None,
            "dataset": dataset,
        }
        values["search_name"] = fold(values["name"])
        unit = existing.get(code)
        if unit is None:
            db.session.add(AdminUnit(code=code, **values))
            inserted += 1
        elif any(getattr(unit, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(unit, k, v)
            updated += 1
    db.session.flush()
    return inserted, updated


def vietnam_2025_rows() -> list[dict]:
    """The 34 provinces and 3,321 communes in force since 1 July 2025 (vietnam-provinces)."""
    from vietnam_provinces import Province, Ward

    rows = [
        {"code": f"{p.code.value:02d}", "name": p.name, "kind": "province",
         "division": p.division_type.value}
        for p in Province.iter_all()
    ]
    rows += [
        {"code": f"{w.code.value:05d}", "name": w.name, "kind": "commune",
         "division": w.division_type.value, "parent_code": f"{w.province_code.value:02d}"}
        for w in Ward.iter_all()
    ]
    return rows


def csv_rows(path: Path) -> list[dict]:
    """Units from a CSV with the columns code,name,kind,parent_code[,division], parents first."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    missing = {"code", "name", "kind"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"missing columns: {', '.join(sorted(missing))}")
    return rows


def provinces(dataset: str = DEFAULT_DATASET) -> list[AdminUnit]:
    return list(db.session.scalars(
        select(AdminUnit).where(AdminUnit.kind == "province", AdminUnit.dataset == dataset)
        .order_by(AdminUnit.search_name)))


@dataclass(frozen=True)
class Choice:
    """A unit as a picker lists it (code and name), cheap to keep between requests."""

    code: str
    name: str


_CHOICES: dict = {}  # process cache of the pickers' lists; emptied by upsert_units


def province_choices() -> tuple[Choice, ...]:
    """provinces() of today's units as choices, read once per process: the public form lists them
    on every GET, three times. Units change only with `flask kiemdich load-areas` (restart after)."""
    if "provinces" not in _CHOICES:
        _CHOICES["provinces"] = tuple(Choice(u.code, u.name) for u in provinces())
    return _CHOICES["provinces"]


def commune_choices(province_code: str) -> tuple[Choice, ...]:
    """search_communes("", province_code, 400) as choices, read once per process and province."""
    key = ("communes", province_code)
    if key not in _CHOICES:
        _CHOICES[key] = tuple(Choice(u.code, u.name) for u in search_communes("", province_code, 400))
    return _CHOICES[key]


def search_communes(query: str = "", province_code: str | None = None, limit: int = 50) -> list[AdminUnit]:
    """Communes whose name holds every word of `query`, ignoring case and diacritics."""
    stmt = select(AdminUnit).where(AdminUnit.kind == "commune", AdminUnit.dataset == DEFAULT_DATASET)
    if province_code:
        stmt = stmt.where(AdminUnit.parent_code == province_code)
    for word in fold(query).split():
        stmt = stmt.where(AdminUnit.search_name.contains(word, autoescape=True))
    return list(db.session.scalars(stmt.order_by(AdminUnit.search_name).limit(limit)))


def search_communes_and_former(query: str = "", province_code: str | None = None,
                                limit: int = 50) -> tuple[list[AdminUnit], dict[str, list]]:
    """search_communes, plus today's communes that merged a pre-2025 commune of that name.

    Returns the communes (by name) and, for those found only through a former name, the former
    communes that matched ({code: [Former]}), for the label "Xã Nghĩa Trung (gồm xã Đức Liễu cũ)".
    """
    from .former import matches

    found = search_communes(query, province_code, limit)
    words = fold(query).split()
    former = {code: names for code, names in matches(query, province_code).items()
              if not all(w in next((u.search_name for u in found if u.code == code), "") for w in words)}
    extra = [u for u in units_by_code(former).values()
             if u.kind == "commune" and u.dataset == DEFAULT_DATASET and u not in found]
    units = sorted(found + extra, key=lambda u: u.search_name)[:limit]
    return units, {u.code: former[u.code] for u in units if u.code in former}


def units_by_code(codes: Iterable[str], with_parent: bool = False) -> dict[str, AdminUnit]:
    codes = [c for c in codes if c]
    if not codes:
        return {}
    stmt = select(AdminUnit).where(AdminUnit.code.in_(codes))
    if with_parent:  # their provinces too, in the same query (labels)
        stmt = stmt.options(joinedload(AdminUnit.parent))
    return {u.code: u for u in db.session.scalars(stmt)}


def label(unit: AdminUnit | None) -> str:
    """'Xã Nghĩa Trung, Đồng Nai'."""
    if unit is None:
        return ""
    return f"{unit.name}, {unit.parent.name}" if unit.parent else unit.name


__all__ = ["upsert_units", "vietnam_2025_rows", "csv_rows", "provinces", "search_communes", "label",
           "units_by_code", "search_communes_and_former"]

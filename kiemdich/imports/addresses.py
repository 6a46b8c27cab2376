"""Resolving destination addresses, in today's units or pre-2025 ones, to official commune codes.

The parsing is done by vietnamadminunits (MIT): it reads text with or without diacritics and
abbreviations, and maps a pre-2025 ward/district/province to today's commune. Its answer is then
checked against our own units table (code first, name within the province when codes disagree),
so nothing is routed on the library's word alone. What cannot be resolved goes to triage.
"""
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import select

from ..extensions import db
from ..models import AdminUnit
from ..text import fold

_lock = threading.Lock()
_library = None


def library():
    """vietnamadminunits, imported once per process (about 0.3 s) with its geocoder switched off."""
    global _library
    if _library is None:
        with _lock:
            if _library is None:
                import vietnamadminunits
                from vietnamadminunits.converter import converter_2025

                # For a pre-2025 ward split between several new ones, the library geocodes the street
                # with an online service. Personal addresses never leave the server: it then uses the
                # ward's default successor, and the officer can transfer the arrival if needed.
                converter_2025.get_geo_location = lambda _address: None
                _library = vietnamadminunits
    return _library


def warm_up() -> threading.Thread:
    """Load the library in the background at start-up, so no request ever waits for it."""
    thread = threading.Thread(target=library, name="kiemdich-address-warmup", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class Answer:
    """What the library read: today's commune and province (codes and names), and how."""

    ward_code: str | None = None
    ward: str | None = None
    province_code: str | None = None
    province: str | None = None
    how: str = ""  # "2025", "legacy" or "" when nothing was found


_DISTRICT_WORDS = re.compile(r"\b(huyen|quan|thi xa|thanh pho|tp|h|q|tx)\b\.?")
# Towns (thị trấn) and districts ended with the 2025 merger: a text naming one is a pre-2025 address,
# read as such first (else a district name that is also a 2025 commune's, "Thống Nhất", wins).
_LEGACY_ONLY = re.compile(r"(^|[\s,])(thi tran|tt\.?|huyen|h\.)\s")


@lru_cache(maxsize=1)
def legacy_index() -> dict:
    """Pre-2025 communes by bare folded name: [(ward, district, province, short district, short
    province)], from the library's own dataset (read once)."""
    import sqlite3
    from pathlib import Path

    lib = library()
    path = Path(lib.__file__).parent / "data" / "dataset.db"
    index: dict = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        for ward, district, province, short_ward, short_district, short_province in conn.execute(
                "SELECT ward, district, province, wardShort, districtShort, provinceShort FROM admin_units_legacy"):
            index.setdefault(fold(short_ward), []).append((ward, district, province, short_district, short_province))
    return index


@lru_cache(maxsize=20_000)
def legacy_successor(ward: str, district: str, province: str) -> tuple[str | None, str | None]:
    """(2025 commune code, 2025 province code) of a pre-2025 commune, by the library's converter."""
    try:
        unit = library().convert_address(f"{ward}, {district}, {province}")
    except Exception:
        return None, None
    return _code(unit.ward_code), _code(unit.province_code)


def _mentions(text_folded: str, name: str | None) -> bool:
    """Whether a unit's short name appears in the text (guards against the parser's wild guesses)."""
    return bool(name) and fold(name) in text_folded


@lru_cache(maxsize=100_000)
def ask(address: str, has_district: bool) -> Answer:
    """The library's answer for one address text; cached per distinct address."""
    lib = library()
    folded = fold(address).replace("-", " ")

    def current():
        try:
            unit = lib.parse_address(address, mode=lib.ParseMode.FROM_2025, keep_street=False, level=2)
        except Exception:  # the parser raises on some malformed input; treat as not found
            return None
        if unit.ward and _mentions(folded, unit.short_ward) and _mentions(folded, unit.short_province):
            return Answer(_code(unit.ward_code), unit.ward, _code(unit.province_code), unit.province, "2025")
        return None

    def legacy():
        try:
            unit = lib.convert_address(address)
        except Exception:
            unit = None
        old = getattr(unit, "OldAdminUnit", None) if unit is not None else None
        # Accepted when consistent with what the text names: the old commune, and its old province.
        if unit is not None and unit.ward and old is not None and _mentions(folded, old.short_ward) and (
                _mentions(folded, old.short_province) or "," not in address):
            return Answer(_code(unit.ward_code), unit.ward, _code(unit.province_code), unit.province, "legacy")
        return town()

    def town():
        """A former town named with its province but not its district ("Thị trấn Đức Phong, Bình
        Phước"): the one town of that name in that old province, converted."""
        first = fold(address.split(",")[0]).strip()
        if not _LEGACY_ONLY.match(first + " "):
            return None
        found = [entry for entry in legacy_index().get(_bare(first), [])
                 if entry[0].startswith("Thị trấn") and _mentions(folded, entry[4])]
        if len(found) != 1:
            return None
        ward, district, province, _d, _p = found[0]
        code, province_code = legacy_successor(ward, district, province)
        return Answer(code, ward, province_code, province, "legacy") if code else None

    legacy_first = has_district or bool(_LEGACY_ONLY.search(" " + folded + " "))
    order = (legacy, current) if legacy_first else (current, legacy)
    for attempt in order:
        answer = attempt()
        if answer:
            return answer
    return Answer(province_code=_province_only(lib, address, folded), how="")


def _province_only(lib, address: str, folded: str) -> str | None:
    """Today's province when no commune could be read (enough to tell transit from triage)."""
    for mode in (lib.ParseMode.FROM_2025, lib.ParseMode.LEGACY):
        try:
            unit = lib.parse_address(address, mode=mode, keep_street=False, level=1)
        except Exception:
            continue
        if unit.province and _mentions(folded, unit.short_province):
            if mode == lib.ParseMode.LEGACY:
                try:
                    return _code(lib.convert_address(address).province_code)
                except Exception:
                    return None
            return _code(unit.province_code)
    return None


def _code(value) -> str | None:
    if value in (None, ""):
        return None
    value = str(value)
    return value.zfill(5) if len(value) > 2 else value.zfill(2)


@dataclass
class Resolution:
    """Where a destination lies: a commune of our table, or only a province, or nothing."""

    commune_code: str | None = None
    province_code: str | None = None
    how: str = ""  # 2025, legacy, name; "" = unresolved


@dataclass
class Resolver:
    """Resolves addresses against the units table; one per import, answers cached per address."""

    home: str
    units: dict = field(default_factory=dict)  # code -> (folded name, parent code)
    by_name: dict = field(default_factory=dict)  # (province, folded name) -> [codes]
    cache: dict = field(default_factory=dict)

    @classmethod
    def load(cls, home: str) -> "Resolver":
        resolver = cls(home=home)
        rows = db.session.execute(select(AdminUnit.code, AdminUnit.search_name, AdminUnit.parent_code,
                                         AdminUnit.kind).where(AdminUnit.dataset == "vn2025"))
        for code, name, parent, kind in rows:
            resolver.units[code] = (name, parent, kind)
            if kind == "commune":
                resolver.by_name.setdefault((parent, name), []).append(code)
                resolver.by_name.setdefault((parent, _bare(name)), []).append(code)
        return resolver

    def resolve(self, *, text: str = "", province: str = "", district: str = "", commune: str = "") -> Resolution:
        key = (text, province, district, commune)
        if key not in self.cache:
            self.cache[key] = self._resolve(text, province, district, commune)
        return self.cache[key]

    def _resolve(self, text, province, district, commune) -> Resolution:
        parts = [commune, district, province] if commune or district else [text, province]
        if commune and text and not district and not province:
            parts = [commune, text]
        address = ", ".join(p for p in parts if p)
        if not address:
            return Resolution()
        has_district = bool(district) or bool(_DISTRICT_WORDS.search(fold(address))) and address.count(",") >= 2
        answer = ask(address, has_district)
        if answer.ward:
            code = self._check(answer.ward_code, answer.ward, answer.province_code)
            if code is None and answer.how == "legacy":
                # A former unit whose successor took another name: the library's code, if it is a
                # commune of the province it answered (the old names were checked against the text).
                unit = self.units.get(answer.ward_code or "")
                if unit and unit[2] == "commune" and unit[1] == answer.province_code:
                    code = answer.ward_code
            if code:
                return Resolution(code, self.units[code][1], answer.how)
        if not answer.province_code and "," not in address:
            # Only a commune name: a unique exact match in the home province is not a guess.
            codes = self.by_name.get((self.home, fold(address))) or self.by_name.get((self.home, _bare(fold(address))))
            if codes and len(codes) == 1:
                return Resolution(codes[0], self.home, "name")
        province_code = answer.province_code if answer.province_code in self.units else None
        return Resolution(None, province_code, "")

    def _check(self, code, name, province_code) -> str | None:
        """The library's commune code if our table agrees, else the commune of that name there."""
        folded = fold(name)
        unit = self.units.get(code or "")
        if unit and unit[2] == "commune" and unit[0] == folded:
            return code
        for key in ((province_code, folded), (province_code, _bare(folded))):
            codes = self.by_name.get(key)
            if codes and len(codes) == 1:
                return codes[0]
        return None

    def is_home(self, code: str | None) -> bool:
        unit = self.units.get(code or "")
        return bool(unit) and (code == self.home or unit[1] == self.home)


_TYPES = re.compile(r"^(xa|phuong|thi tran|dac khu|tt|p|x)\.?\s+")
_UNIT_START = re.compile(r"^(xa|phuong|thi tran|dac khu|tt|p|x)(\.\s*|\s+)\S")


def below_commune(text: str, resolution: "Resolution") -> str:
    """The part of an address written before its commune ("Thôn 3" in "Thôn 3, Phường Tân Phú, TP Đồng
    Xoài, Bình Phước"): the part that names a commune type starts the units; without one, the last two
    parts (commune, province) or three (commune, district, province, before 2025) are the units."""
    parts = [part.strip() for part in text.split(",")]
    for i, part in enumerate(parts):
        if _UNIT_START.match(fold(part)):
            return ", ".join(p for p in parts[:i] if p)
    units = 3 if resolution.how == "legacy" else 2
    return ", ".join(p for p in parts[:-units] if p) if len(parts) > units else ""


def _bare(folded: str) -> str:
    """A folded commune name without its type word: 'xa nghia trung' -> 'nghia trung'."""
    return _TYPES.sub("", folded)


def suggestions(text: str, province_code: str, limit: int = 5) -> list[AdminUnit]:
    """Communes a supervisor may mean for an unresolved destination, best first."""
    from ..areas.operations import search_communes

    first = fold(text).split(",")[0]
    words = _bare(first.strip())
    found = _legacy_suggestions(text, province_code)
    found += [u for u in (search_communes(words, province_code, limit) if words else []) if u not in found]
    if not found and words:
        for word in sorted(words.split(), key=len, reverse=True)[:2]:
            found += [u for u in search_communes(word, province_code, limit) if u not in found]
    return found[:limit]


def _legacy_suggestions(text: str, province_code: str) -> list[AdminUnit]:
    """Today's communes that took a pre-2025 commune named in the text ("Thị trấn Thanh Bình" ->
    Xã Thiện Hưng), in the province; the ones whose old district is also named come first."""
    folded = fold(text)
    scored = []
    for part in folded.split(",")[:2]:
        for ward, district, province, short_district, _p in legacy_index().get(_bare(part.strip()), []):
            code, new_province = legacy_successor(ward, district, province)
            if code and new_province == province_code:
                scored.append((0 if _mentions(folded, short_district) else 1, code))
    codes = [code for _score, code in sorted(scored)]
    units = {u.code: u for u in db.session.scalars(select(AdminUnit).where(AdminUnit.code.in_(codes)))}
    return list(dict.fromkeys(units[c] for c in codes if c in units))

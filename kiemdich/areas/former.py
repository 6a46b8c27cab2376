"""Pre-2025 commune names, so that the picker finds today's commune by the name people still use.

Since the merger of 1 July 2025 "Xã Đức Liễu" is part of "Xã Nghĩa Trung" (25417). The mapping is
the address library's (vietnamadminunits, already used by the import): its table of the 10,040
former wards and its old-to-new conversion data. The index is built once per process, in the
background at start-up (warm_up; else on first use: about a second on a busy machine, plus the
library's own import, shared with the import's resolver), and kept in memory: it is static
data shipped with the library, nothing to migrate. Only codes come out of it; what is stored
is always today's commune code.
"""
import threading
from dataclasses import dataclass

from ..text import fold

_lock = threading.Lock()
_index: "list[Former] | None" = None


@dataclass(frozen=True)
class Former:
    """A pre-2025 commune that is now (all or part of) the commune `code`."""

    code: str  # today's commune code, five digits
    province: str  # today's province code, two digits
    name: str  # "xã Đức Liễu", as written inside a sentence
    folded: str  # "xa duc lieu", for the search
    partial: bool  # the old commune was split between several of today's


def _build() -> "list[Former]":
    from ..imports.addresses import library

    library()  # imports the package once, with its online geocoder switched off
    from vietnamadminunits.converter import converter_2025
    from vietnamadminunits.database import query

    old = {}
    for row in query("SELECT DISTINCT provinceKey, districtKey, wardKey, ward, wardType, wardShort "
                     "FROM admin_units_legacy WHERE wardKey IS NOT NULL"):
        key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
        old[key] = f"{(row['wardType'] or '').lower()} {row['wardShort']}".strip() if row["wardShort"] else row["ward"]
    new = {}
    for row in query("SELECT DISTINCT provinceKey, wardKey, wardCode, provinceCode, ward FROM admin_units"):
        new[(row["provinceKey"], row["wardKey"])] = (str(row["wardCode"]).zfill(5),
                                                     str(row["provinceCode"]).zfill(2), fold(row["ward"]))

    index, seen = [], set()

    def add(province_key, ward_key, old_key, partial):
        target, name = new.get((province_key, ward_key)), old.get(old_key)
        if target is None or name is None:
            return
        code, province, current = target
        folded = fold(name)
        if folded == current or (code, folded) in seen:  # the commune kept its name
            return
        seen.add((code, folded))
        index.append(Former(code, province, name, folded, partial))

    for province_key, wards in converter_2025.DICT_PROVINCE_WARD_NO_DIVIDED.items():
        for ward_key, old_keys in wards.items():
            for old_key in old_keys:
                add(province_key, ward_key, old_key, False)
    for province_key, divided in converter_2025.DICT_PROVINCE_WARD_DIVIDED.items():
        for old_key, parts in divided.items():
            for part in parts:
                add(province_key, part["newWardKey"], old_key, True)
    return index


def index() -> "list[Former]":
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _build()
    return _index


def warm_up() -> threading.Thread:
    """Build the index in the background at start-up, so no traveller's search waits for it."""
    thread = threading.Thread(target=index, name="kiemdich-former-names-warmup", daemon=True)
    thread.start()
    return thread


def matches(query: str, province_code: str | None = None) -> "dict[str, list[Former]]":
    """Today's commune codes whose former communes' names hold every word of `query`."""
    words = fold(query).split()
    if not words:
        return {}
    found: dict[str, list[Former]] = {}
    for former in index():
        if province_code and former.province != province_code:
            continue
        if all(word in former.folded for word in words):
            found.setdefault(former.code, []).append(former)
    return found


def label(commune_name: str, olds: "list[Former]") -> str:
    """'Xã Nghĩa Trung (gồm xã Đức Liễu cũ)'; a split commune reads 'một phần xã … cũ'."""
    from flask_babel import gettext as _

    names = ", ".join(_("part of %(name)s", name=o.name) if o.partial else o.name for o in olds)
    return _("%(commune)s (incl. former %(names)s)", commune=commune_name, names=names)

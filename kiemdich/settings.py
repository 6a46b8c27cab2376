"""Settings an admin may change in the app (the Setting table), falling back to the configuration."""
from flask import current_app
from sqlalchemy import select

from .extensions import db
from .models import Setting

# Setting key -> configuration name that holds its default.
DEFAULTS = {
    "hotline": "KIEMDICH_HOTLINE",
    "token_valid_hours": "KIEMDICH_TOKEN_VALID_HOURS",
    "status_grace_days": "KIEMDICH_STATUS_GRACE_DAYS",
}


def get(key: str) -> str:
    """The value in force: the Setting row if an admin saved one, else the configured default."""
    row = db.session.get(Setting, key)
    if row is not None and row.value.strip():
        return row.value.strip()
    return str(current_app.config[DEFAULTS[key]])


def rows(*keys: str) -> dict[str, Setting]:
    """The stored Setting rows of these keys (any key, e.g. a station's), in one query."""
    return {r.key: r for r in db.session.scalars(select(Setting).where(Setting.key.in_(keys)))}


def get_many(*keys: str, found: dict[str, Setting] | None = None) -> dict[str, str]:
    """get() of several settings in one query (hot pages), or from rows() already read."""
    found = rows(*keys) if found is None else found
    values = {k: found[k].value.strip() for k in keys if k in found}
    return {k: values.get(k) or str(current_app.config[DEFAULTS[k]]) for k in keys}


def as_int(key: str, value: str) -> int:
    """`value` of setting `key` as an integer; a malformed value falls back to the configured default."""
    try:
        return int(value)
    except ValueError:
        return int(current_app.config[DEFAULTS[key]])


def get_int(key: str) -> int:
    """An integer setting; a malformed stored value falls back to the configured default."""
    return as_int(key, get(key))

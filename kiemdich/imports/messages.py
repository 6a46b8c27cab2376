"""What each row problem and batch failure means, in words for the user (codes are stored)."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .reader import PROBLEMS

ROW_ERRORS = {
    "missing_name": _l("Full name is missing."),
    "missing_birth": _l("Birth year is missing or is not a year."),
    "bad_id": _l("The ID number is not 9 or 12 digits, nor a passport number."),
    "rounded_id": _l("Excel rounded the ID number (shown like 1.23E+11): format that column as Text "
                     "in the source and export it again."),
    "bad_phone": _l("The phone number is not a Vietnamese mobile number."),
    "missing_contact": _l("Neither an ID number nor a phone number is given."),
    "missing_time": _l("The time of passage is missing or is not a date."),
    "future_time": _l("The time of passage is in the future."),
    "unknown_checkpoint": _l("The checkpoint is unknown or outside your area."),
    "missing_checkpoint": _l("No checkpoint: choose one for the whole file, or map the checkpoint column."),
    "missing_dest": _l("The destination is missing: a supervisor will choose the commune."),
    "unresolved_dest": _l("The destination could not be matched to a commune: a supervisor will choose it."),
    "duplicate_db": _l("Duplicate: this passage is already recorded."),
}
STATUS = {
    "reading": _l("Reading the file"), "uploaded": _l("Columns to check"), "analysing": _l("Dry run running"),
    "analysed": _l("Dry run done"), "committing": _l("Writing"), "committed": _l("Imported"),
    "failed": _l("Failed, nothing written"), "refused": _l("File refused"), "cancelled": _l("Cancelled"),
}
RUNNING = ("reading", "analysing", "committing")


def row_error(code: str) -> str:
    """One stored problem code ("duplicate_file:12") in words."""
    name, _sep, arg = code.partition(":")
    if name == "duplicate_file":
        return _("Duplicate: the same person at the same checkpoint and time is on row %(row)s of this file.",
                 row=arg)
    return str(ROW_ERRORS.get(name, name))


def row_errors(codes) -> str:
    return " ".join(row_error(c) for c in codes or [])


def batch_error(code: str) -> str:
    """A batch's stored failure in words."""
    if not code:
        return ""
    if code in PROBLEMS:
        return str(PROBLEMS[code])
    name, _sep, detail = code.partition(":")
    if name == "commit_failed":
        return _("Writing failed and was rolled back: no row of this file was written (%(detail)s). "
                 "Run the dry run again, then write.", detail=detail)
    if name == "interrupted":
        step = {"read": _("reading the file"), "dry_run": _("the dry run"), "commit": _("writing")}.get(detail, detail)
        return _("The job stopped while %(step)s (its process ended) and nothing of that step was "
                 "written. Resume it, or cancel the import.", step=step)
    if name == "dry_run_failed":
        return _("The dry run failed (%(detail)s). Check the columns and try again.", detail=detail)
    return _("The file could not be read (%(detail)s).", detail=detail or name)

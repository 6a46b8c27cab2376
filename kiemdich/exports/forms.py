"""Export forms: what to list, over which days, in which format."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, ValidationError
from wtforms.validators import DataRequired, Optional

FORMATS = [("xlsx", "Excel (.xlsx)"), ("csv", "CSV (.csv)")]
MAX_DAYS = 366


class _Period:
    def validate_end(self, field):
        if self.start.data and field.data:
            if field.data < self.start.data:
                raise ValidationError(_l("The end date is before the start date."))
            if (field.data - self.start.data).days > MAX_DAYS:
                raise ValidationError(_l("Choose a period of at most one year."))


class PassageExportForm(_Period, FlaskForm):
    checkpoint = SelectField(_l("Checkpoint"), coerce=int, validators=[Optional()])
    start = DateField(_l("From"), validators=[DataRequired(_l("Choose a date."))])
    end = DateField(_l("To"), validators=[DataRequired(_l("Choose a date."))])
    fmt = RadioField(_l("Format"), choices=FORMATS, default="xlsx")


class ArrivalExportForm(_Period, FlaskForm):
    commune = SelectField(_l("Commune / ward"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    start = DateField(_l("Expected from"), validators=[Optional()])
    end = DateField(_l("Expected until"), validators=[Optional()])
    fmt = RadioField(_l("Format"), choices=FORMATS, default="xlsx")

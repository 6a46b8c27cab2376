"""Forms of the privacy pages: the notice editor and data-subject requests."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..fields import IntegerField


class NoticeForm(FlaskForm):
    version = StringField(_l("Version"), validators=[
        DataRequired(_l("Enter a version name, e.g. 2026-07.")), Length(max=20, message=_l("At most 20 characters."))])
    text = TextAreaField(_l("Text shown before declaring"), validators=[
        DataRequired(_l("Enter the text of the notice.")), Length(min=50, message=_l("The notice is too short."))])


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search: nothing changes (the search itself is audited)

    id_number = StringField(_l("ID number (CCCD/CMND/passport)"), validators=[Optional(), Length(max=20)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=15)])
    name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    birth_year = IntegerField(_l("Birth year"), validators=[
        Optional(), NumberRange(1900, 2100, _l("A year such as 1985."))])

    def validate(self, extra_validators=None):
        # Not a validate_name method: Optional() stops the chain of an empty field before it runs.
        valid = super().validate(extra_validators)
        if not ((self.id_number.data or "").strip() or (self.phone.data or "").strip()
                or (self.name.data or "").strip()):
            self.name.errors = list(self.name.errors) + [_l("Enter an ID number, a phone number or a full name.")]
            return False
        return valid


class EraseForm(FlaskForm):
    reason = TextAreaField(_l("Reason (the request, its date, how the person was identified)"), validators=[
        DataRequired(_l("Write the reason for the erasure.")), Length(min=5, max=2000)])

"""Forms of the levels and rules editors, and the labels of the codes they use."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..fields import IntegerField
from .operations import LEVELS, MAX_DAYS

LEVEL_LABELS = {1: _l("Level 1 – low risk"), 2: _l("Level 2 – medium risk"), 3: _l("Level 3 – high risk"),
                4: _l("Level 4 – very high risk"), 5: _l("Lockdown")}
MEASURE_LABELS = {"declaration_only": _l("Health declaration only"), "self_monitoring": _l("Self-monitoring at home"),
                  "home_quarantine": _l("Home quarantine"), "central_quarantine": _l("Centralised quarantine")}
VACCINATION_LABELS = {"full": _l("Fully vaccinated"), "recovered": _l("Recovered within 6 months"),
                      "partial": _l("Partly vaccinated"), "none": _l("Not vaccinated")}


def _days(label):
    return IntegerField(label, default=0, validators=[
        InputRequired(_l("Enter a number of days (0 if none).")),
        NumberRange(0, MAX_DAYS, _l("From 0 to %(n)s days.", n=MAX_DAYS))])


class LevelForm(FlaskForm):
    level = SelectField(_l("Epidemic level"), coerce=int, choices=[(n, LEVEL_LABELS[n]) for n in LEVELS])
    effective_from = DateField(_l("Applies from"), validators=[DataRequired(_l("Choose a date."))])
    effective_to = DateField(_l("Until (optional)"), validators=[Optional()])
    note = TextAreaField(_l("Decision / note"), validators=[Optional(), Length(max=2000)])


class LineForm(FlaskForm):
    measure = SelectField(_l("Measure"), choices=list(MEASURE_LABELS.items()))
    days = _days(_l("Days"))
    after = _days(_l("Then self-monitoring (days)"))
    test_days = StringField(_l("Test days (1 = arrival day)"), validators=[Optional(), Length(max=60)])
    needs_approval = BooleanField(_l("Needs a leader's approval"))
    instruction_code = SelectField(_l("Instruction code printed at the checkpoint"), coerce=lambda v: int(v) if v else None,
                                   validate_choice=False)


class MetaForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Give the version a name.")), Length(max=160)])
    source = TextAreaField(_l("Decision it implements"), validators=[Optional(), Length(max=2000)])


class PublishForm(FlaskForm):
    effective_from = DateField(_l("Applies from"), validators=[DataRequired(_l("Choose a date."))])
    effective_to = DateField(_l("Until (optional)"), validators=[Optional()])


class PreviewForm(FlaskForm):
    class Meta:
        csrf = False  # a GET: the preview changes nothing

    level = SelectField(_l("Epidemic level of the origin"), coerce=int, default=4,
                        choices=[(n, LEVEL_LABELS[n]) for n in LEVELS])
    doses = IntegerField(_l("Vaccine doses"), default=2, validators=[
        InputRequired(_l("Enter the number of doses (0 if none).")), NumberRange(0, 10, _l("From 0 to 10."))])
    last_dose = DateField(_l("Date of the last dose"), validators=[Optional()])
    recovered = DateField(_l("Recovered from COVID-19 on"), validators=[Optional()])
    arrival = DateField(_l("Arrival date"), validators=[DataRequired(_l("Choose a date."))])

"""The dashboard's period and area filter (a GET form: nothing changes, so no CSRF token)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, ValidationError
from wtforms.validators import Optional

from .figures import MAX_DAYS


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])
    area = SelectField(_l("Area"), validators=[Optional()], validate_choice=False)

    def validate_end(self, field):
        if self.start.data and field.data:
            if field.data < self.start.data:
                raise ValidationError(_l("The end date is before the start date."))
            if (field.data - self.start.data).days >= MAX_DAYS:
                raise ValidationError(_l("Choose a period of at most %(n)s days.", n=MAX_DAYS))

    def validate_area(self, field):
        if field.data and field.data not in {code for code, _label in field.choices}:
            raise ValidationError(_l("This area is not in your scope."))

"""Forms for signing in and managing accounts."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.validators import DataRequired, Length, Optional, Regexp

from .passwords import MIN_LENGTH


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter your username."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])


ROLE_CHOICES = [
    ("commune", _l("Commune health officer")),
    ("checkpoint", _l("Checkpoint staff")),
    ("supervisor", _l("Supervisor")),
    ("admin", _l("Administrator")),
]


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(_l("Enter a username.")), Length(3, 64, _l("Between 3 and 64 characters.")),
        Regexp(r"^[A-Za-z0-9._-]+$", message=_l("Letters without accents, digits, dot, dash or underscore only."))])
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=15)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=MIN_LENGTH, message=_l("At least %(n)s characters.", n=MIN_LENGTH))])
    # Check boxes: a multiple <select> needs Ctrl-click on a computer and hides the choice on a phone.
    checkpoints = SelectMultipleField(_l("Checkpoints"), coerce=int, validate_choice=False,
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=MIN_LENGTH, message=_l("At least %(n)s characters.", n=MIN_LENGTH))])

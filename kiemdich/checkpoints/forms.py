"""The checkpoint form (the commune comes from the cascading picker)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FloatField, StringField
from wtforms.validators import InputRequired, Length, Optional


class CoordinateField(FloatField):
    """A latitude or longitude; WTForms' own message for a bad number is English only."""

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip().replace(",", ".")
        self.data = None
        if not text:
            return
        try:
            self.data = float(text)
        except ValueError:
            raise ValueError(_l("Enter a number such as 11.4290, or leave it empty.")) from None


class CheckpointForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(_l("Enter the checkpoint's name.")),
                                               Length(max=160, message=_l("At most 160 characters."))])
    road = StringField(_l("Road, direction"), validators=[Optional(), Length(max=160, message=_l("At most 160 characters."))])
    lat = CoordinateField(_l("Latitude (optional)"), validators=[Optional()])
    lon = CoordinateField(_l("Longitude (optional)"), validators=[Optional()])

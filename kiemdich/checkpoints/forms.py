"""The checkpoint form (the commune comes from the cascading picker)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FloatField, StringField
from wtforms.validators import InputRequired, Length, Optional


class CheckpointForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(_l("Enter the checkpoint's name.")),
                                               Length(max=160, message=_l("At most 160 characters."))])
    road = StringField(_l("Road, direction"), validators=[Optional(), Length(max=160, message=_l("At most 160 characters."))])
    lat = FloatField(_l("Latitude (optional)"), validators=[Optional()])
    lon = FloatField(_l("Longitude (optional)"), validators=[Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # WTForms' own message for a bad number is English only.
        for field in (self.lat, self.lon):
            field.gettext = lambda _msg: str(_l("Enter a number such as 11.4290, or leave it empty."))

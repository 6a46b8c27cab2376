"""Form fields shared by the features."""
from wtforms import IntegerField as _IntegerField

MAX_DIGITS = 9


class IntegerField(_IntegerField):
    """WTForms' IntegerField that refuses numbers longer than nine digits.

    WTForms' NumberRange calls math.isnan() on the value, which raises OverflowError (a 500) for
    an integer too large for a float; no field here needs more than nine digits.
    """

    def process_formdata(self, valuelist):
        if valuelist and len(str(valuelist[0]).strip().lstrip("+-")) > MAX_DIGITS:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)

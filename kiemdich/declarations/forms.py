"""The declaration form: every field of the design, with a specific message for each bad value."""
import re
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, RadioField, SelectField, SelectMultipleField,
                     StringField, TextAreaField, ValidationError, widgets)
from wtforms.validators import InputRequired, Length, Optional

from ..areas.operations import units_by_code
from ..models.travel import SYMPTOMS, VEHICLES
from ..text import fold, nfc, normalise_phone
from .rules import from_cccd

TRAVEL_WINDOW_DAYS = 14  # how far before or after today a trip may be declared
PLATED = ("xe_may", "o_to", "xe_khach", "xe_tai")
NONCE = re.compile(r"^[0-9a-f]{16}$")
PLATE = re.compile(r"^\d{2}[A-Z][A-Z0-9]?\d{4,6}$")  # 93F112345, 51A12345, 29LD12345 once cleaned
VN_PASSPORT = re.compile(r"^[A-Z]\d{7}$")
OTHER_PASSPORT = re.compile(r"^[A-Z0-9]{6,12}$")

ID_TYPE_CHOICES = [("cccd", _l("Citizen ID card (CCCD, 12 digits)")),
                   ("cmnd", _l("Old ID card (CMND, 9 digits)")),
                   ("passport", _l("Passport"))]
SEX_CHOICES = [("nam", _l("Male")), ("nu", _l("Female")), ("khac", _l("Other"))]
VEHICLE_LABELS = {"xe_may": _l("Motorbike"), "o_to": _l("Car"), "xe_khach": _l("Coach"),
                  "xe_tai": _l("Truck"), "xe_dap": _l("Bicycle"), "khac": _l("Other")}
SYMPTOM_LABELS = {
    "sot": _l("Fever"), "ho": _l("Cough"), "kho_tho": _l("Shortness of breath"),
    "dau_hong": _l("Sore throat"), "non": _l("Vomiting"), "tieu_chay": _l("Diarrhoea"),
    "xuat_huyet": _l("Bleeding under the skin"), "noi_ban": _l("Skin rash"),
    "mat_vi_giac": _l("Loss of taste or smell"), "met_moi": _l("Tiredness"),
}
TEST_CHOICES = [("", _l("No test")), ("rapid", _l("Rapid antigen test")), ("pcr", _l("RT-PCR"))]
DOSE_CHOICES = [(str(n), str(n)) for n in range(0, 5)]


class CheckboxesField(SelectMultipleField):
    """Several checkboxes sending one name."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class LocalDateField(StringField):
    """A date from <input type=date> (YYYY-MM-DD) or typed as dd/mm/yyyy; None when empty."""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if not self.raw:
            return
        # Typed on a phone's number pad: 27/09/2026, 27-09-2026, 27.09.2026 or 27092026.
        for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d%m%Y"):
            try:
                self.data = datetime.strptime(self.raw, fmt).date()
                return
            except ValueError:
                continue
        raise ValueError(_("Enter a date as dd/mm/yyyy."))

    def _value(self):
        if self.data:
            return self.data.isoformat()
        return getattr(self, "raw", "") or ""


class TypedDateField(LocalDateField):
    """A date typed as dd/mm/yyyy in a text box: quicker on a phone than a calendar for a date
    months back (the date of a vaccine dose is copied from the certificate)."""

    def _value(self):
        if self.data:
            return self.data.strftime("%d/%m/%Y")
        return getattr(self, "raw", "") or ""


def _required(message):
    return InputRequired(message=message)


class DeclarationForm(FlaskForm):
    """One trip. Commune codes come from the cascading pickers (contact, origin, dest)."""

    nonce = HiddenField()
    consent_version = HiddenField()
    # Identity
    full_name = StringField(_l("Full name"), validators=[
        _required(_l("Enter your full name.")), Length(max=120, message=_l("At most 120 characters."))])
    id_type = SelectField(_l("Identity document"), choices=ID_TYPE_CHOICES, default="cccd",
                          validate_choice=False)
    id_number = StringField(_l("Document number"), validators=[_required(_l("Enter the number of your document."))])
    # Year of birth and sex are required, but a CCCD number tells both (the page fills them in as
    # soon as it is typed; the server reads them from it when they come empty): see validate_*.
    birth_year = StringField(_l("Year of birth"))
    birth_date = LocalDateField(_l("Date of birth (if you know it)"), validators=[Optional()])
    sex = RadioField(_l("Sex"), choices=SEX_CHOICES, validate_choice=False)
    phone = StringField(_l("Mobile phone"), validators=[_required(_l("Enter your mobile phone number."))])
    nationality = StringField(_l("Nationality"), default="Việt Nam", validators=[
        _required(_l("Enter your nationality.")), Length(max=60, message=_l("At most 60 characters."))])
    # Addresses: the commune codes are read from the pickers' fields of the same name.
    # Most travellers are reached where they stay: ticked by default, visibly, and then the
    # destination is stored as the contact address too.
    contact_same = BooleanField(_l("Same as the address where I will stay"), default=True)
    contact_province = StringField()
    contact = StringField()
    contact_street = StringField(_l("House number, street, hamlet"), validators=[
        Length(max=200, message=_l("At most 200 characters."))])
    origin_province = StringField()
    origin = StringField()
    origin_street = StringField(_l("House number, street, hamlet (optional)"), validators=[
        Optional(), Length(max=200, message=_l("At most 200 characters."))])
    dest_province = StringField()
    dest = StringField()
    dest_street = StringField(_l("House number, street, hamlet where you will stay"), validators=[
        _required(_l("Enter the address where you will stay.")),
        Length(max=200, message=_l("At most 200 characters."))])
    # Trip
    travel_date = LocalDateField(_l("Travel date"), validators=[_required(_l("Enter the travel date."))])
    vehicle_type = SelectField(_l("Vehicle"), choices=[(v, VEHICLE_LABELS[v]) for v in VEHICLES],
                               default="xe_may", validate_choice=False)
    vehicle_plate = StringField(_l("Number plate"), validators=[Length(max=20, message=_l("At most 20 characters."))])
    vehicle_seat = StringField(_l("Seat number (coach)"), validators=[Optional(), Length(max=10, message=_l("At most 10 characters."))])
    places_visited = TextAreaField(_l("Provinces, cities or countries you have been to in the last 14 days"),
                                   validators=[Optional(), Length(max=1000, message=_l("At most 1000 characters."))])
    # Health
    symptoms = CheckboxesField(_l("In the last 7 days, have you had any of these?"),
                               choices=[(s, SYMPTOM_LABELS[s]) for s in SYMPTOMS], validate_choice=False)
    exposure_case = BooleanField(_l("Close contact with a COVID-19 case or suspected case"))
    exposure_market = BooleanField(_l("Visited a farm or a market selling live animals"))
    exposure_care = BooleanField(_l("Cared directly for someone with an infectious disease"))
    # No default: "0" preselected would make a forgetful vaccinated traveller look unvaccinated.
    vaccine_doses = RadioField(_l("COVID-19 vaccine doses received"), choices=DOSE_CHOICES, validate_choice=False,
                               validators=[_required(_l("Choose the number of vaccine doses (0 if none)."))])
    last_dose_date = TypedDateField(_l("Date of the last dose"))
    recovered_date = LocalDateField(_l("Recovered from COVID-19 on (if you had it)"), validators=[Optional()])
    test_kind = SelectField(_l("Latest negative test"), choices=TEST_CHOICES, default="",
                            validate_choice=False)
    test_date = LocalDateField(_l("Date of that test"))
    # Provenance
    on_behalf = BooleanField(_l("I am declaring for someone else (khai hộ)"))
    on_behalf_by = StringField(_l("Your name (the person declaring)"), validators=[Length(max=120, message=_l("At most 120 characters."))])
    consent = BooleanField(_l("I have read the notice above and agree"))

    def __init__(self, *args, today: date, latest_notice: str, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.latest_notice = latest_notice
        self.staff = staff
        self.units = {}
        self.notice_changed = False  # a newer privacy notice was published while the form was open
        if staff:  # khai hộ: elderly people and children have no phone; a relative's number or none
            self.phone.validators = [Optional()]

    def validate(self, extra_validators=None):
        # The three communes (and their provinces, for the slip) in one query instead of one each.
        self._found = units_by_code([self.contact.data, self.origin.data, self.dest.data], with_parent=True)
        ok = super().validate(extra_validators)
        # Choices are checked here rather than by WTForms, whose message has no Vietnamese.
        for field in (self.id_type, self.sex, self.vehicle_type, self.vaccine_doses, self.test_kind):
            if field.data not in {value for value, _label in field.choices} and not field.errors:
                field.errors.append(_("Choose a value from the list."))
                ok = False
        bad = [s for s in (self.symptoms.data or []) if s not in SYMPTOMS]
        if bad:
            self.symptoms.errors.append(_("Choose a value from the list."))
            ok = False
        return ok

    # Field rules ---------------------------------------------------------------------------

    def validate_full_name(self, field):
        name = nfc(field.data)
        if not all(c.isalpha() or c in " -.'" for c in name) or not any(c.isalpha() for c in name):
            raise ValidationError(_("The name may only contain letters and spaces."))
        field.data = " ".join(name.split())

    def validate_id_number(self, field):
        number = re.sub(r"[\s.\-]", "", field.data or "").upper()
        field.data = number
        kind = self.id_type.data
        if kind == "cccd" and not re.fullmatch(r"\d{12}", number):
            raise ValidationError(_("A citizen ID card (CCCD) number has exactly 12 digits."))
        if kind == "cmnd" and not re.fullmatch(r"\d{9}", number):
            raise ValidationError(_("An old ID card (CMND) number has exactly 9 digits."))
        if kind == "passport":
            vietnamese = fold(self.nationality.data or "") in ("viet nam", "vietnam")
            if vietnamese and not VN_PASSPORT.fullmatch(number):
                raise ValidationError(_("A Vietnamese passport number is one letter and 7 digits, e.g. C1234567."))
            if not vietnamese and not OTHER_PASSPORT.fullmatch(number):
                raise ValidationError(_("A passport number has 6 to 12 letters or digits."))

    def _cccd(self):
        """(year of birth, sex) read from a well-formed CCCD number, else None."""
        if self.id_type.data == "cccd" and not self.id_number.errors:
            return from_cccd(self.id_number.data or "")
        return None

    def validate_birth_year(self, field):
        text = (field.data or "").strip()
        if not text:
            derived = self._cccd()
            if derived is None:
                raise ValidationError(_("Enter your year of birth."))
            text = str(derived[0])
        if not re.fullmatch(r"\d{4}", text) or not 1900 <= int(text) <= self.today.year:
            raise ValidationError(_("The year of birth must be between 1900 and %(year)s.", year=self.today.year))
        field.data = text

    def validate_sex(self, field):
        if not field.data:
            derived = self._cccd()
            if derived is None:
                raise ValidationError(_("Choose your sex."))
            field.data = derived[1]

    def validate_birth_date(self, field):
        if field.data is None:
            return
        if field.data > self.today:
            raise ValidationError(_("The date of birth cannot be in the future."))
        if self.birth_year.data and str(field.data.year) != str(self.birth_year.data).strip():
            raise ValidationError(_("The date of birth does not match the year of birth."))

    def validate_phone(self, field):
        phone = normalise_phone(field.data)
        if phone is None:
            raise ValidationError(_("This is not a Vietnamese mobile number (e.g. 0912 345 678 or +84 912 345 678)."))
        field.data = phone

    def validate_contact(self, field):
        if self.contact_same.data:
            return  # the destination, checked below
        if not field.data:
            raise ValidationError(_("Choose the commune or ward of your contact address."))
        self._commune(field, "contact_province")

    def validate_contact_street(self, field):
        if not self.contact_same.data and not (field.data or "").strip():
            raise ValidationError(_("Enter the house number, street or hamlet of your contact address."))

    def validate_origin(self, field):
        if not field.data and not self.origin_province.data:
            raise ValidationError(_("Choose the province or city you are coming from."))
        if not field.data:
            raise ValidationError(_("Choose the commune or ward you are coming from."))
        self._commune(field, "origin_province")

    def validate_dest(self, field):
        if not field.data:
            raise ValidationError(_("Choose the commune or ward you are going to."))
        self._commune(field, "dest_province")

    def _commune(self, field, province_field):
        found = getattr(self, "_found", None)
        unit = (found if found is not None else units_by_code([field.data])).get(field.data)
        if unit is None or unit.kind != "commune":
            raise ValidationError(_("Unknown commune; choose it from the list."))
        province = getattr(self, province_field)
        if province.data and unit.parent_code != province.data:
            raise ValidationError(_("This commune is not in the chosen province."))
        province.data = unit.parent_code
        self.units[field.name] = unit

    def validate_travel_date(self, field):
        if field.data is None:
            return
        if field.data < self.today - timedelta(days=TRAVEL_WINDOW_DAYS):
            raise ValidationError(_("The travel date cannot be more than %(n)s days ago.", n=TRAVEL_WINDOW_DAYS))
        if field.data > self.today + timedelta(days=TRAVEL_WINDOW_DAYS):
            raise ValidationError(_("You can declare at most %(n)s days before you travel.", n=TRAVEL_WINDOW_DAYS))

    def validate_vehicle_plate(self, field):
        plate = " ".join((field.data or "").upper().split())
        field.data = plate
        if self.vehicle_type.data not in PLATED:
            return
        if not plate:
            raise ValidationError(_("Enter the number plate."))
        if not PLATE.fullmatch(re.sub(r"[\s.\-]", "", plate)):
            raise ValidationError(_("This is not a Vietnamese number plate (e.g. 93F1-123.45 or 51A-123.45)."))

    def _not_future(self, field, message):
        if field.data and field.data > self.today:
            raise ValidationError(message)

    def validate_last_dose_date(self, field):
        if self.vaccine_doses.errors:
            return
        if self.vaccine_doses.data != "0" and field.data is None:
            raise ValidationError(_("Enter the date of your last dose."))
        if self.vaccine_doses.data == "0" and field.data is not None:
            raise ValidationError(_("You chose 0 doses; leave this date empty or choose the number of doses."))
        self._not_future(field, _("The date of the last dose cannot be in the future."))

    def validate_recovered_date(self, field):
        self._not_future(field, _("The recovery date cannot be in the future."))

    def validate_test_date(self, field):
        if self.test_kind.data and field.data is None:
            raise ValidationError(_("Enter the date of the test."))
        self._not_future(field, _("The test date cannot be in the future."))

    def validate_on_behalf_by(self, field):
        field.data = nfc(field.data)
        if self.on_behalf.data and not self.staff and not field.data:
            raise ValidationError(_("Enter the name of the person declaring."))

    def validate_consent(self, field):
        if not field.data:
            raise ValidationError(_("Tick the box to agree to the personal data notice before sending."))
        if self.consent_version.data != self.latest_notice:
            # A new notice was published while the form was open: it must be read first.
            self.consent_version.data = self.latest_notice
            self.notice_changed = True
            field.data = False
            raise ValidationError(_("The personal data notice has changed. Please read it again and tick the box."))

    # Result --------------------------------------------------------------------------------

    def values(self) -> dict:
        """The validated values as Declaration columns."""
        doses = int(self.vaccine_doses.data or 0)
        return {
            "full_name": self.full_name.data, "id_type": self.id_type.data, "id_number": self.id_number.data,
            "birth_year": int(self.birth_year.data), "birth_date": self.birth_date.data, "sex": self.sex.data,
            "phone": self.phone.data, "nationality": nfc(self.nationality.data),
            "contact_commune_code": self.dest.data if self.contact_same.data else self.contact.data,
            "contact_street": nfc(self.dest_street.data if self.contact_same.data else self.contact_street.data),
            "origin_province_code": self.origin_province.data, "origin_commune_code": self.origin.data,
            "origin_street": nfc(self.origin_street.data or ""),
            "dest_commune_code": self.dest.data, "dest_street": nfc(self.dest_street.data),
            "travel_date": self.travel_date.data, "vehicle_type": self.vehicle_type.data,
            "vehicle_plate": self.vehicle_plate.data if self.vehicle_type.data != "xe_dap" else "",
            "vehicle_seat": (self.vehicle_seat.data or "").strip(),
            "places_visited": nfc(self.places_visited.data or ""),
            "symptoms": [s for s in SYMPTOMS if s in (self.symptoms.data or [])],
            "exposure_case": bool(self.exposure_case.data), "exposure_market": bool(self.exposure_market.data),
            "exposure_care": bool(self.exposure_care.data), "vaccine_doses": doses,
            "last_dose_date": self.last_dose_date.data if doses else None,
            "recovered_date": self.recovered_date.data,
            "test_kind": self.test_kind.data or "", "test_date": self.test_date.data if self.test_kind.data else None,
            "on_behalf": bool(self.on_behalf.data) or self.staff,
            "on_behalf_by": self.on_behalf_by.data if self.on_behalf.data else "",
            "consent_version": self.consent_version.data,
        }

    def nonce_value(self) -> str | None:
        return self.nonce.data if NONCE.fullmatch(self.nonce.data or "") else None

"""Prefilling the assisted declaration (khai hộ) from an ID card read at the scan screen.

Only the form's starting values: nothing is stored until the staff member sends the form. The
card's permanent address is resolved to a 2025 commune (kiemdich/imports/addresses.py, on
vietnamadminunits) for the contact address; when it lies in the home province it is also offered
as the destination (a resident coming home), which the staff member checks with the traveller.
"""
from flask import current_app

from ..imports.addresses import Resolver


def _street(address: str) -> str:
    """The house/hamlet part: what precedes the commune and province. On a pre-2025 address the old
    commune stays in it (what the neighbours still call the place), the district goes."""
    parts = [p.strip() for p in address.split(",") if p.strip()]
    keep = len(parts) - 2
    return ", ".join(parts[:keep]) if keep > 0 else ""


def from_card(card) -> dict:
    """The form fields a card fills: {field name: value}."""
    data = {"full_name": card.full_name, "id_type": card.id_type, "id_number": card.id_number,
            "birth_year": str(card.birth_year), "birth_date": card.birth_date}
    if card.sex:
        data["sex"] = card.sex
    if not card.address:
        return data
    home = current_app.config["KIEMDICH_PROVINCE"]
    found = Resolver.load(home).resolve(text=card.address)
    if not found.commune_code:
        data.update(contact_province=found.province_code or "", contact_street=card.address[:200])
        return data
    street = _street(card.address) or card.address[:200]
    data.update(contact_province=found.province_code, contact=found.commune_code, contact_street=street)
    if found.province_code == home:
        data.update(dest_province=home, dest=found.commune_code, dest_street=street)
    return data

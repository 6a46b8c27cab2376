"""The traveller's declaration of a trip: the public form, staff-assisted declaring and self check-in."""

"""The traveller's own status page, opened by the personal link or by code and birth year."""

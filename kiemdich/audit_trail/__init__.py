"""Reading the audit trail: supervisors see their area's events, admins all. There is no way to change it."""

"""Excel and CSV exports of passages and arrivals, scoped by role."""

"""Checkpoints: managed by supervisors within their area, with printable QR posters."""

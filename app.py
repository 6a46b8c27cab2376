"""Entry point for `flask` and gunicorn: `gunicorn app:app`."""
from kiemdich import create_app

app = create_app()

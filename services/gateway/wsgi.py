"""WSGI entry point for gunicorn: `gunicorn services.gateway.wsgi:app`."""
from services.gateway.app import create_app

app = create_app()

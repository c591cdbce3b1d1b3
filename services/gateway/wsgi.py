"""WSGI entry point for gunicorn: `gunicorn services.gateway.wsgi:app`."""
from services.gateway import auth
from services.gateway.app import create_app

auth.require_secrets()
app = create_app()

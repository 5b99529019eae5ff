"""WSGI entry point for gunicorn. Refuses to load with an unsafe production configuration."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpsite.settings")

application = get_wsgi_application()

from mcpsite.checks import refuse_unsafe_configuration  # noqa: E402  needs the app registry

refuse_unsafe_configuration()

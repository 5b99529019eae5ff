"""Reference: the least Django can do for an echo `tools/call` (no apps, no middleware, no database).

Served by gunicorn with the product's deploy/gunicorn.conf.py, so only the application differs.
"""

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.bare_urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True

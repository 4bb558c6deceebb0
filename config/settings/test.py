"""Settings for the test suite: the production module with a throwaway key and fast hashing.

DATABASE_URL and REDIS_URL still come from the environment, so CI tests against
PostgreSQL and a real broker while a bare `make test` uses SQLite.
"""

import os

os.environ.setdefault("SECRET_KEY", "insecure-test-key-only-for-the-test-suite-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # serve from the finders: no collectstatic in tests
# Login throttling off: the test client's login() authenticates without a request, which
# axes refuses; the lockout tests switch it on with override_settings(AXES_ENABLED=True).
AXES_ENABLED = False

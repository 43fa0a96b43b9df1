"""The standalone site's settings, with fixed test keys and fast polling."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("CRYPTOGRAPHY_KEY", "test-cryptography-key-not-for-production")

from config.settings import *

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
# No retries unless a test asks for them: fault tests then see exactly one upstream call.
OPENAI_VECTOR_STORES = {"POLL_INTERVAL": 0.01, "MAX_RETRIES": 0, "CREATE_MAX_RETRIES": 0}
# The test client speaks plain HTTP; production's HTTPS redirect is tested in test_deploy.py
# (test_plain_http_is_redirected_to_https_except_the_health_check).
SECURE_SSL_REDIRECT = False
# Throttling is tested on its own (test_throttling.py); other tests may send many requests quickly.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "100000/minute", "anon": "100000/minute"}}

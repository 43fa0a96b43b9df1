"""A separate, minimal host Django site that adopts the two apps as a third party would.

It shares nothing with the standalone site in config/: its own settings, URL prefix
(/ai/), authentication (HTTP Basic only) and custom user model (accounts.Member, signing
in by email). tests/site/test_host_site.py drives it in subprocesses, since pytest-django
configures the test process once with tests.settings.
"""

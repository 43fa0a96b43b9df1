"""Run Django commands of the host site in a subprocess (the test process already has its own settings)."""

import os
import subprocess
import sys

SETTINGS = "tests.site.host_project.settings"
SMOKE_MARKER = "HOST-SITE-SMOKE-OK "

# Variables of the test process that must not leak into the host site.
_DROPPED = {
    "DJANGO_SETTINGS_MODULE",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
}


def run_host(args, *, pythonpath, cwd, db=None, env=None, timeout=180):
    """`python <args>` under the host site's settings; returns the CompletedProcess (text)."""
    environment = {key: value for key, value in os.environ.items() if key not in _DROPPED}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "PYTHONPATH": os.pathsep.join(str(path) for path in pythonpath),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if db is not None:
        environment["HOST_PROJECT_DB"] = str(db)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def django_command(*args, **kwargs):
    return run_host(["-m", "django", *args], **kwargs)


def smoke(**kwargs):
    return run_host(["-m", "tests.site.host_project.smoke"], **kwargs)


def describe(result):
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"

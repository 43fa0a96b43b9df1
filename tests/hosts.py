"""Running pytest as a host site would, in a folder of its own: none of this checkout's configuration."""
import os
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def run_host_pytest(project, *args, settings="tests.settings", pythonpath=(PROJECT_ROOT,)):
    """pytest in `project` with only pytest-django and the files there. The apps come installed."""
    (project / "pytest.ini").write_text("[pytest]\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "PYTEST_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(map(str, pythonpath)),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # a host's minimal setup: no xdist, no schemathesis, ...
        DATABASE_URL=f"sqlite:///{project / 'host.sqlite3'}",
    )
    command = [sys.executable, "-m", "pytest", "-p", "pytest_django.plugin", f"--ds={settings}",
               "-c", str(project / "pytest.ini"), "--rootdir", str(project), "-p", "no:cacheprovider",
               "-q", "-rA", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)

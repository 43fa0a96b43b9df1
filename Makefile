# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test install migrate schema serve bench

# (Re)install when pyproject.toml changes.
$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[site,postgres,test]'
	touch $@

install: $(INSTALLED)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	$(BIN)/python -m pytest -n auto

# Regenerate the committed OpenAPI document (a test fails when it drifts from the code).
schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

# Production serving: granian (config/serve.py), static files through WhiteNoise.
# Needs SECRET_KEY, CRYPTOGRAPHY_KEYS and ALLOWED_HOSTS in the environment (see README, "Deploying").
serve: migrate
	DEBUG=0 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=0 $(BIN)/python -m config.serve

# The benchmarks of docs/performance.md (about 5 minutes; not part of `make test`). Uses Debian's
# wrk for the throughput figure when installed (apt-get install wrk), else Python threads.
bench: install
	$(BIN)/python -m bench

# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint format install migrate schema serve bench bench-peer matrix ci-matrix

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

# The test matrix of noxfile.py: every supported Python (pyenv's 3.11, 3.12, 3.13) and Django (5.2, 6.0,
# 6.1), each in its own virtualenv under .nox/. nox itself goes into .venv.
#   make matrix      the whole suite on every pair, and `minimum` (the lowest declared dependencies)
#   make ci-matrix   what .ci/run adds to `make test`: the whole suite on 3.13/6.1, the smoke subset on
#                    the other pairs, and `minimum`
# NOXFLAGS passes options through, e.g. `make matrix NOXFLAGS=-R` to reuse the virtualenvs.
NOX := $(BIN)/nox
NOXFLAGS ?=

$(NOX): | $(INSTALLED)
	$(BIN)/python -m pip install --quiet 'nox>=2025.10.16'

matrix: $(NOX)
	$(NOX) $(NOXFLAGS) -t matrix

ci-matrix: $(NOX)
	$(NOX) $(NOXFLAGS)

# ruff (configured in pyproject.toml): lint, then check the formatting. `make format` applies both fixes.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the committed OpenAPI document (a test fails when it drifts from the code).
schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

# Production serving: granian (config/serve.py), static files through WhiteNoise.
# Needs SECRET_KEY, CRYPTOGRAPHY_KEYS and ALLOWED_HOSTS in the environment (see README, "Deploying").
# `--check` first: a setting it cannot use stops it in one line, before anything is migrated.
serve: install
	DEBUG=0 $(BIN)/python -m config.serve --check
	DEBUG=0 $(BIN)/python manage.py migrate --noinput
	DEBUG=0 $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	DEBUG=0 $(BIN)/python -m config.serve

# The benchmarks of docs/performance.md (about 5 minutes; not part of `make test`). Uses Debian's
# wrk for the throughput figure when installed (apt-get install wrk), else Python threads.
bench: install
	$(BIN)/python -m bench

# Figure 9's peer, the LiteLLM proxy, in a virtualenv of its own (its pins clash with this project's);
# never needed by `make run` or `make test`. Then the figure: make bench-peer.
PEER_VENV := .venv-peer
bench-peer: install
	test -x $(PEER_VENV)/bin/litellm || ($(PYTHON) -m venv $(PEER_VENV) && \
		$(PEER_VENV)/bin/python -m pip install --quiet 'litellm[proxy]>=1.108')
	$(BIN)/python -m bench --only 1,9

# The two commands of the README: `make demo` and `make test`. Each does all set-up on a
# fresh machine: a virtualenv with the project installed, RabbitMQ and PostgreSQL answering.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install infra browser validators bench faults clean

demo: install infra
	$(VENV)/bin/grantflow demo

test: install infra browser validators
	$(PY) -m pytest $(PYTEST_ARGS)

browser: install
	$(PY) -m grantflow.browser

# promtool and kubectl for tests/unit/deploy (never skipped)
validators: install
	$(PY) -m grantflow.validators

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

infra: install
	$(PY) -m grantflow.infra

bench: install infra
	$(PY) bench/pipeline.py

# Replays through kills, an SMTP outage, ended database connections and closed broker
# connections, each compared with a clean replay (bench/faults.py; long: not in .ci/run).
faults: install infra
	$(PY) bench/faults.py $(FAULTS_ARGS)

clean:
	-$(VENV)/bin/grantflow down
	rm -rf var

# The two commands of the README: `make demo` and `make test`. Each does all set-up on a
# fresh machine: a virtualenv with the project installed, RabbitMQ and PostgreSQL answering.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# the suite is spread over processes (pytest-xdist), one test handed out at a time so the
# longest ones, collected first (tests/conftest.py), start first; PYTEST_JOBS= runs it in one
PYTEST_JOBS ?= -n 4 --dist load --maxschedchunk 1
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install infra browser validators pdflibs bench faults clean

# Python may cache compiled modules (__pycache__, gitignored) whatever the machine says: the
# suite starts about 150 service processes and each pytest-xdist worker collects every test
# module, and without the cache each compiled (and pytest rewrote) every one of them again
unexport PYTHONDONTWRITEBYTECODE

demo: install infra pdflibs
	$(VENV)/bin/grantflow demo

test: install infra browser validators pdflibs
	$(PY) -m pytest $(PYTEST_JOBS) $(PYTEST_ARGS)

browser: install
	$(PY) -m grantflow.browser

# Pango and a font for WeasyPrint's PDF letters and summaries
pdflibs: install
	$(PY) -m grantflow.pdflibs

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

# 慈溪社保本地系统 — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# the suite runs in two processes (this machine's cores); PYTEST_WORKERS=0 runs it in one
PYTEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed

.PHONY: install run test test-browser bench lint migrate worker clean-db stop-db

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=68" wheel
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: install
	SHEBAO_DEBUG=1 $(PY) -m shebao.devserver

test: install
	@SHEBAO_PG_THROWAWAY=1 $(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-browser: install
	@SHEBAO_PG_THROWAWAY=1 $(PY) -m pytest -m browser $(PYTEST_ARGS)

bench: install
	SHEBAO_DEBUG=1 $(PY) -m shebao.bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

migrate: install
	SHEBAO_DEBUG=1 $(PY) manage.py migrate

worker: install
	SHEBAO_DEBUG=1 $(PY) manage.py procrastinate worker

stop-db: install
	SHEBAO_DEBUG=1 $(PY) -c "from shebao.common import pgembed; pgembed.stop()"

clean-db: stop-db
	rm -rf var/pgdata var/demo-loaded

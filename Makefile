# NES Portal: the two commands (see README.md) and a few helpers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run card-service test lint format worker beat messages bench clean

$(VENV)/.installed-run: pyproject.toml cardservice/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e . -e ./cardservice
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-run
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

## run: the portal with demo data on the embedded default (SQLite, in-process tasks, SMS outbox)
run: export DEBUG ?= true
run: $(VENV)/.installed-run
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "SMS Onay Kodları: http://$(HOST):$(PORT)/dev/sms/  (ve bu konsol)"
	$(PY) manage.py runserver $(HOST):$(PORT)

## card-service: the Akıllı Kart Servisi with a demo card (a SoftHSM2 token holding Kerimcan
## Zeytin's active and suspended certificates; PIN 123456), for E-İmzalı Giriş and E-Onay with the
## card. Run it in a second terminal while `make run` serves the portal (it needs the demo data
## that `make run` seeds, and Debian's softhsm2: apt-get install softhsm2)
card-service: export DEBUG ?= true
card-service: $(VENV)/.installed-run
	$(PY) manage.py create_demo_token --origin http://$(HOST):$(PORT)
	SOFTHSM2_CONF=$(CURDIR)/var/softhsm/softhsm2.conf $(VENV)/bin/nes-kart-servisi serve \
		--module /usr/lib/softhsm/libsofthsm2.so --origin http://$(HOST):$(PORT) \
		--state-dir $(CURDIR)/var/softhsm/state

## test: the whole suite; uses DATABASE_URL / REDIS_URL when set
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(PYTEST_ARGS)

## lint: ruff (check + format), mypy with django-stubs and the import-linter contracts
## (pyproject.toml [tool.mypy], [tool.importlinter]); .ci/run runs the same steps
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --config-file cardservice/pyproject.toml cardservice/nes_kart_servisi
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## worker: a Celery worker (needs REDIS_URL or CELERY_BROKER_URL)
worker: $(VENV)/.installed-run
	$(VENV)/bin/celery -A nesportal worker --loglevel=INFO

## beat: Celery beat, the periodic tasks (run exactly one per installation)
beat: $(VENV)/.installed-run
	$(VENV)/bin/celery -A nesportal beat --loglevel=INFO --schedule=$(or $(VAR_DIR),var)/celerybeat-schedule

## messages: refresh locale/ from the source and compile it
messages: $(VENV)/.installed-dev
	DEBUG=true $(PY) manage.py makemessages --locale en --no-obsolete --add-location file \
		--ignore .venv --ignore var --ignore tests --ignore '*.egg-info' --ignore staticfiles
	DEBUG=true $(PY) manage.py compilemessages --locale en --ignore .venv

## bench: page speed, a few minutes (bench/pages.py: every page against a bare Django view on the
## same stack, 1,000 citizens; BENCH_ARGS=--million adds 1,000,000 citizens and the 1M/1k ratios).
## Needs PostgreSQL and Redis: NES_BENCH_PG (postgres://postgres@127.0.0.1:5432), NES_BENCH_REDIS
## (redis://127.0.0.1:6379/15); and the demo CA (make run once, or manage.py create_demo_ca)
bench: $(VENV)/.installed-run
	$(PY) bench/pages.py $(BENCH_ARGS)
	@echo "Other benchmarks (bench/README.md): bench/revocation.py (revocation at national scale),"
	@echo "bench/crl_build.py (building and signing CRLs), bench/argon2_check.py (one security-word check)"

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis

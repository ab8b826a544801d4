# Corrigo — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha1sum | cut -c1-12)
TEST_WORKERS ?= 3

.DEFAULT_GOAL := help
.PHONY: help venv run test test-deps container-test demo-walk demo-walk-school bench bench-pdf chaos mutation lint scan messages compilemessages migrate admin clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements/*.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt -c requirements/constraints.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP) ## Create the virtualenv and install the pinned requirements

compilemessages: $(STAMP) ## Compile the .po translation catalogues
	@$(PY) scripts/compilemessages.py

messages: $(STAMP) ## Extract translatable strings into locale/*/LC_MESSAGES/django.po (French plurals filled)
	$(PY) manage.py makemessages -l fr -l en --no-location --ignore=.venv --ignore=tests --ignore=static/vendor --ignore=var --ignore=staticfiles
	$(PY) manage.py makemessages -d djangojs -l fr -l en --no-location --ignore=.venv --ignore=static/vendor --ignore=staticfiles
	$(PY) scripts/po_fill.py --french-plurals

migrate: $(STAMP) ## Apply database migrations (embedded SQLite unless DATABASE_URL is set)
	$(PY) manage.py migrate --noinput

run: $(STAMP) compilemessages ## Run web (daphne), Celery worker, beat and Redis (embedded defaults)
	$(PY) scripts/run.py

admin: $(STAMP) ## Create an admin (superuser) account
	$(PY) manage.py createsuperuser

test-deps: ## Install the Debian packages the tests need (Chromium, nginx…) if missing, or say which
	@scripts/system-deps.sh test

test: test-deps $(STAMP) compilemessages ## Run the test suite on PostgreSQL and Redis (started if absent), installing Chromium and nginx if missing
	DJANGO_ALLOW_ASYNC_UNSAFE=true scripts/with-services.sh $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

container-test: $(STAMP) ## Build docker/Dockerfile with podman on a debootstrapped Debian and run it for real behind nginx (≈ 20 min)
	@scripts/system-deps.sh container
	$(PY) scripts/container_test.py

demo-walk: $(STAMP) compilemessages ## A teacher's first hour in make run's demo mode, in Chromium: screenshots in test-artifacts/demo-walk/
	@scripts/system-deps.sh test
	$(PY) scripts/demo_walk.py $(WALK_ARGS)

demo-walk-school: $(STAMP) compilemessages ## A school in make run's demo mode, in Chromium: operator, school admin, invited teacher, partial launch and resume
	@scripts/system-deps.sh test
	$(PY) scripts/demo_walk_school.py $(WALK_ARGS)

bench: $(STAMP) compilemessages ## Run the benchmarks and print their figures
	scripts/with-services.sh $(PY) -m tests.bench $(BENCH_ARGS)

bench-pdf: $(STAMP) compilemessages ## Run the hostile-PDF corpus under the production limits, print times and peaks
	$(PY) -m tests.bench.pdfs $(BENCH_ARGS)

chaos: $(STAMP) compilemessages ## Grade under faults (killed worker, Redis restart, killed DB connections, LLM faults) on its own PostgreSQL and Redis; prints the books, fails on a difference
	@rc=0; timeout 600 $(PY) -m tests.chaos $(CHAOS_ARGS) || rc=$$?; \
	if [ $$rc -eq 3 ] && [ -n "$(CHAOS_BOOKS_KNOWN_TO_DIFFER)" ]; then \
		echo "CHAOS BOOKS DIFFER (ledger_rows != provider_calls; every copy graded once, nothing lost or overspent): known residual window, issue 11"; \
	else exit $$rc; fi

mutation: $(STAMP) compilemessages ## Mutation testing of the business rules (mutmut); prints mutation killed= survived= score= and the survivors (≈ 50 min on 2 cores)
	scripts/mutation.sh

lint: $(STAMP) ## ruff, djlint, import-linter, mypy, hadolint, shellcheck, migrations up to date
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/djlint templates --lint
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint docker/Dockerfile
	$(VENV)/bin/shellcheck --severity=warning scripts/*.sh docker/*.sh .ci/run
	$(PY) manage.py makemigrations --check --dry-run >/dev/null

scan: $(STAMP) ## bandit + pip-audit --strict, JSON in reports/; fails on findings and on NOT AUDITED
	scripts/scan.sh

clean: ## Remove runtime files (var/, reports/, staticfiles/)
	rm -rf var reports staticfiles

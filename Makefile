# The two commands: `make run` starts the platform with the demo tenant; `make test` runs everything.
VENV := .venv
BIN := $(VENV)/bin
LINT_PATHS := src workers tests bench migrations

.PHONY: run test setup lint typecheck unit bench bench-transcode translations image

run: setup
	$(BIN)/lms serve --demo

test: setup lint typecheck
	$(BIN)/pytest

setup:
	@./scripts/bootstrap.sh

lint:
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck:
	$(BIN)/mypy

# The container image (Containerfile) with buildah, and its smoke test (migrate, start the API, /ready).
# IMAGE and TAG name it (default localhost/lms:<version>); SKIP_SMOKE=1 builds only.
image: setup
	./scripts/build-image.sh

bench: setup
	$(BIN)/python bench/rls_overhead.py
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/progress_ingest.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/quiz_submit.py
	$(BIN)/python bench/certificates.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/edge_overhead.py
	$(BIN)/python bench/requests.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/user_import.py
	$(BIN)/python bench/load_scenario.py --processes 2

bench-transcode: setup
	$(BIN)/python bench/transcode.py

# Page texts: collect the messages of templates and page code, and merge them into the catalogues
# (then translate the new entries in src/lms/web/locales/*/LC_MESSAGES/messages.po; they compile at start-up).
translations:
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k N_ --no-location --sort-output \
		--project="Learning platform" -o src/lms/web/locales/messages.pot .
	$(BIN)/pybabel update -i src/lms/web/locales/messages.pot -d src/lms/web/locales -D messages -w 120 --no-fuzzy-matching

# The two commands a new checkout needs: `make demo` and `make test`.
# Both create .venv with nothing but python3 and install the package with its dev tools.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest compliance docs package bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples .ci
	$(BIN)/ruff format --check src tests bench examples .ci

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy tests/typing
	$(BIN)/mypy --strict examples/whatsapp_cloud.py
	$(BIN)/mypy --strict examples/service
	$(BIN)/mypy --strict examples/compliance_tests

pytest: $(STAMP)
	$(BIN)/python -m pytest

# A small business's own compliance suite, written with the pytest plugin alone.
compliance: $(STAMP)
	$(BIN)/python -m pytest examples/compliance_tests

# The docs site: a broken link or a reference to a missing name fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# The wheel and sdist a release would upload, checked as PyPI and users will see them.
package: $(STAMP)
	rm -rf build/dist
	$(BIN)/python -m build --no-isolation --outdir build/dist .
	$(BIN)/twine check --strict build/dist/*
	$(BIN)/python .ci/check_dist.py build/dist

# Every check. The package is built first (its build rewrites src/omnimsg/_version.py),
# then the rest two at a time: the suite is the long one, the others share the second
# core, and each one's output is printed whole when it ends.
test: $(STAMP)
	$(MAKE) --no-print-directory package
	$(MAKE) --no-print-directory -j2 --output-sync=target lint typecheck pytest compliance docs

bench: $(STAMP)
	$(BIN)/python bench/decide.py
	$(BIN)/python bench/segments.py
	$(BIN)/python bench/csv_import.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/audit.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist

"""The import contracts in pyproject.toml hold, and each of them fails on the imports it exists to stop."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import grimp
import pytest
from importlinter import Contract
from importlinter.cli import lint_imports
from importlinter.contracts.forbidden import ForbiddenContract

from lms.config import PROJECT_ROOT
from tests.architecture.contracts import DomainBoundaryContract

PYPROJECT = PROJECT_ROOT / "pyproject.toml"
CONFIG: dict[str, Any] = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("lms", "workers", include_external_packages=True, cache_dir=None)


def contract(kind: type[Contract], name_starts: str) -> Contract:
    options = next(c for c in CONFIG["contracts"] if c["name"].startswith(name_starts))
    # import-linter reads option values as text, as its own configuration reader hands them over.
    as_text = {key: str(value) if isinstance(value, bool) else value for key, value in options.items()}
    return kind(name=options["name"], session_options=CONFIG, contract_options=as_text)


def kept_with(graph: grimp.ImportGraph, rule: Contract, importer: str, imported: str) -> bool:
    trial = copy.deepcopy(graph)
    trial.add_import(importer=importer, imported=imported, line_number=1, line_contents=f"import {imported}")
    return bool(rule.check(trial, verbose=False).kept)


def test_the_code_keeps_every_contract() -> None:
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0


@pytest.mark.parametrize(
    ("importer", "imported", "kept"),
    [
        ("lms.media.controllers", "lms.catalog.controllers", False),
        ("lms.certificates.services", "lms.learning.models", False),
        ("lms.assessments.quizzes.services.attempts", "lms.learning.pages", False),  # another domain's pages
        ("lms.catalog.services.versions", "lms.identity.signin.pages", False),
        ("lms.identity.sso.saml.services", "lms.tenancy.controllers", False),  # sub-domains are held too
        ("lms.certificates.services", "lms.learning.queries", True),
        ("lms.media.services.learning_link", "lms.catalog.services", True),
        ("lms.assessments.guards", "lms.catalog.schemas", True),
        ("lms.learning.services.views", "lms.learning.models", True),  # a domain's own modules
        ("lms.media.services", "lms.assessments.quizzes.services.attempts", True),  # a sub-domain's services
        ("lms.media.services", "lms.assessments.assignments.controllers", False),  # a sub-domain's internals
    ],
)
def test_a_domain_imports_only_public_modules_of_another(
    graph: grimp.ImportGraph, importer: str, imported: str, kept: bool
) -> None:
    rule = contract(DomainBoundaryContract, "A domain imports only")
    assert kept_with(graph, rule, importer, imported) is kept


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("lms.lib.outbox", "lms.learning.models"),
        ("lms.lib.mail", "lms.identity.queries"),
        ("lms.db.binding", "lms.tenancy.models"),
        ("lms.db.base", "lms.models"),
        ("lms.lib.jobs", "workers.runtime"),
    ],
)
def test_lib_and_db_import_no_domain(graph: grimp.ImportGraph, importer: str, imported: str) -> None:
    rule = contract(ForbiddenContract, "lib/ and db/")
    assert kept_with(graph, rule, importer, importer.rsplit(".", 1)[0]) is True
    assert kept_with(graph, rule, importer, imported) is False


@pytest.mark.parametrize("imported", ["sqlalchemy", "advanced_alchemy", "asyncpg"])
def test_a_controller_module_runs_no_sql(graph: grimp.ImportGraph, imported: str) -> None:
    rule = contract(ForbiddenContract, "Controllers run no SQL")
    assert kept_with(graph, rule, "lms.media.controllers", "lms.media.services") is True
    assert kept_with(graph, rule, "lms.media.controllers", imported) is False


@pytest.mark.parametrize("imported", ["sqlalchemy", "advanced_alchemy", "asyncpg"])
def test_a_page_module_runs_no_sql(graph: grimp.ImportGraph, imported: str) -> None:
    rule = contract(ForbiddenContract, "Pages run no SQL")
    assert kept_with(graph, rule, "lms.identity.signin.pages", "lms.identity.signin.services") is True
    assert kept_with(graph, rule, "lms.identity.signin.pages", imported) is False

"""The `domain_boundaries` import contract: a domain imports only another domain's public modules.

import-linter's built-in contracts forbid named modules; this one allows named ones instead, so a new
internal module of a domain is private without anyone remembering to list it.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output
from importlinter.application import contract_utils


class DomainBoundaryContract(Contract):
    """Options: `domains` (packages), `public` (submodule names any domain may import from another),
    `public_modules` (further importable modules, by full name), `ignore_imports` (named exceptions)."""

    type_name = "domain_boundaries"

    domains = fields.ListField(subfield=fields.StringField())
    public = fields.ListField(subfield=fields.StringField())
    public_modules = fields.ListField(subfield=fields.StringField(), required=False)
    ignore_imports = fields.SetField(subfield=fields.ImportExpressionField(), required=False)

    def _owner(self, module: str) -> str | None:
        for domain in self.domains:  # type: ignore[attr-defined]
            if module == domain or module.startswith(domain + "."):
                return str(domain)
        return None

    def _is_public(self, module: str, domain: str) -> bool:
        if module in set(self.public_modules or []):  # type: ignore[arg-type]
            return True
        # A sub-domain has the same shape (`assessments.quizzes.services`), so any public name on the path counts.
        parts = module[len(domain) + 1 :].split(".")
        return any(part in set(self.public) for part in parts)  # type: ignore[arg-type]

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        removal = contract_utils.remove_ignored_imports_and_report(
            graph=graph,
            ignore_imports=self.ignore_imports,  # type: ignore[arg-type]
            unmatched_alerting=contract_utils.AlertLevel.ERROR,
        )
        broken: list[dict[str, Any]] = []
        for importer in sorted(graph.modules):
            source = self._owner(importer)
            if source is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = self._owner(imported)
                if target is None or target == source or self._is_public(imported, target):
                    continue
                details = graph.get_import_details(importer=importer, imported=imported)
                lines = [d["line_number"] for d in details]
                broken.append({"importer": importer, "imported": imported, "lines": lines})
        return ContractCheck(
            kept=not broken,
            metadata={"broken": broken},
            warnings=list(removal.warnings),
            ignored_import_count=removal.ignored_import_count,
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            lines = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(f"{item['importer']} -> {item['imported']} ({lines}): not a public module", bold=False)
            output.new_line()

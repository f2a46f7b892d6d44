"""Tenants as code: `tenants/<slug>.yaml` manifests applied idempotently with a printed diff.

Every manifest is validated before anything is written; an error names the file, the line and the
field. Applying the same manifests twice changes nothing the second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib.edge import string_problem
from lms.tenancy.models import Plan, TenantDomain, TenantStatus
from lms.tenancy.schemas import RESERVED_SLUGS, Branding, Hostname, Name, Seats, Slug, SsoSettings
from lms.tenancy.services import Actor, TenantAdmin


class DomainManifest(msgspec.Struct, forbid_unknown_fields=True):
    hostname: Hostname
    primary: bool = False
    # Manifests are reviewed like code, so a declared domain may be marked verified here.
    verified: bool = False


class TenantManifest(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    plan: Plan = Plan.TRIAL
    seats: Seats = 0
    status: Literal["active", "suspended"] = "active"
    domains: list[DomainManifest] = msgspec.field(default_factory=list)
    branding: Branding = msgspec.field(default_factory=Branding)
    sso: SsoSettings = msgspec.field(default_factory=SsoSettings)


@dataclass(frozen=True)
class ManifestProblem:
    file: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class InvalidManifests(Exception):
    def __init__(self, problems: list[ManifestProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class LoadedManifest:
    path: Path
    manifest: TenantManifest
    lines: dict[str, int]


@dataclass
class ManifestPlan:
    """What applying the manifests would change, as human-readable lines."""

    changes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes


# --- loading and validation ------------------------------------------------------------------

# A tenant manifest is a short document: these bounds refuse hostile files before they cost much.
MAX_MANIFEST_BYTES = 256 * 1024
MAX_MANIFEST_DEPTH = 16
MAX_MANIFEST_NODES = 10_000


def load_manifests(directory: Path, base_domain: str = "") -> list[LoadedManifest]:
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    problems: list[ManifestProblem] = []
    loaded: list[LoadedManifest] = []
    for path in files:
        try:
            loaded.append(_load_one(path, base_domain))
        except InvalidManifests as exc:
            problems.extend(exc.problems)
    hostnames: dict[str, Path] = {}
    for item in loaded:
        for index, domain in enumerate(item.manifest.domains):
            other = hostnames.setdefault(domain.hostname, item.path)
            if other != item.path:
                key = f"domains[{index}].hostname"
                problems.append(ManifestProblem(item.path, item.lines.get(key, 1), key, f"also declared in {other}"))
    if problems:
        raise InvalidManifests(problems)
    return loaded


def _load_one(path: Path, base_domain: str) -> LoadedManifest:
    text = _read_text(path)
    try:
        _check_shape(path, text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        problem = ManifestProblem(path, _yaml_error_line(exc, text), "(yaml)", _yaml_message(exc))
        raise InvalidManifests([problem]) from exc
    if node is None or not isinstance(node, yaml.MappingNode):
        raise InvalidManifests([ManifestProblem(path, 1, "(document)", "expected a mapping of tenant fields")])
    lines: dict[str, int] = {}
    data = _to_python(node, "", lines, path)
    try:
        manifest = msgspec.convert(data, TenantManifest)
    except msgspec.ValidationError as exc:
        key, message = _split_msgspec_error(str(exc))
        raise InvalidManifests([ManifestProblem(path, _line_for(lines, key), key or "(document)", message)]) from exc
    problems: list[ManifestProblem] = []
    if manifest.slug != path.stem:
        problems.append(ManifestProblem(path, lines.get("slug", 1), "slug", f"must match the file name '{path.stem}'"))
    if manifest.slug in RESERVED_SLUGS:
        problems.append(ManifestProblem(path, lines.get("slug", 1), "slug", f"'{manifest.slug}' is reserved"))
    if sum(d.primary for d in manifest.domains) > 1:
        problems.append(ManifestProblem(path, lines.get("domains", 1), "domains", "at most one primary domain"))
    for index, domain in enumerate(manifest.domains):
        if base_domain and (domain.hostname == base_domain or domain.hostname.endswith("." + base_domain)):
            key = f"domains[{index}].hostname"
            problems.append(
                ManifestProblem(path, lines.get(key, 1), key, f"hosts under {base_domain} belong to the platform")
            )
    if problems:
        raise InvalidManifests(problems)
    return LoadedManifest(path=path, manifest=manifest, lines=lines)


def _read_text(path: Path) -> str:
    """The file as text: bounded in size and valid UTF-8, or a problem naming the line."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifests([ManifestProblem(path, 1, "(file)", f"larger than {MAX_MANIFEST_BYTES} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = ManifestProblem(path, line, "(file)", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})")
        raise InvalidManifests([problem]) from exc


def _check_shape(path: Path, text: str) -> None:
    """One streaming pass over the parser's events before anything is built: no aliases (an alias
    bomb expands exponentially), nesting and size within bounds (the composer recurses)."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            message = f"aliases (*{event.anchor}) are not allowed in manifests"
            raise InvalidManifests([ManifestProblem(path, line, "(yaml)", message)])
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_MANIFEST_DEPTH:
                message = f"nested deeper than {MAX_MANIFEST_DEPTH} levels"
                raise InvalidManifests([ManifestProblem(path, line, "(yaml)", message)])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if count > MAX_MANIFEST_NODES:
            message = f"more than {MAX_MANIFEST_NODES} entries"
            raise InvalidManifests([ManifestProblem(path, line, "(yaml)", message)])


def _yaml_error_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # the reader's errors (a raw NUL) carry a position
    return text[:position].count("\n") + 1 if isinstance(position, int) else 1


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"unacceptable character #x{exc.character:04x}: special characters are not allowed"
    return str(getattr(exc, "problem", exc))


def _to_python(node: yaml.Node, key: str, lines: dict[str, int], path: Path) -> Any:
    """Build plain data from YAML nodes, remembering the line of every key path; every string must
    be one the database can store."""
    lines[key] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            child = f"{key}.{name}" if key else name
            lines[child] = key_node.start_mark.line + 1
            _check_string(path, key_node, name, key or "(document)")
            result[name] = _to_python(value_node, child, lines, path)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, f"{key}[{i}]", lines, path) for i, item in enumerate(node.value)]
    value = yaml.SafeLoader("").construct_object(node, deep=True)
    if isinstance(value, str):
        _check_string(path, node, value, key or "(document)")
    return value


def _check_string(path: Path, node: yaml.Node, value: str, field: str) -> None:
    if (problem := string_problem(value)) is not None:
        raise InvalidManifests([ManifestProblem(path, node.start_mark.line + 1, field, problem)])


def _split_msgspec_error(text: str) -> tuple[str, str]:
    """msgspec says "<message> - at `$.path`" (no suffix at the top level); return (path, message)."""
    match = re.search(r" - at `\$\.?(.*)`$", text)
    key, message = (match.group(1), text[: match.start()]) if match else ("", text)
    named = re.match(r"Object (?:missing required|contains unknown) field `(\w+)`", message)
    if named:
        key = f"{key}.{named.group(1)}".lstrip(".")
    return key, message


def _line_for(lines: dict[str, int], key: str) -> int:
    """The line of `key`, or of its nearest ancestor that exists (a missing field: its parent)."""
    while key and key not in lines:
        parent = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", key)
        key = "" if parent == key else parent
    return lines.get(key, 1)


# --- planning and applying -------------------------------------------------------------------


async def apply_manifests(
    session: AsyncSession, loaded: list[LoadedManifest], base_domain: str, dry_run: bool
) -> ManifestPlan:
    """Compare each manifest with the database and apply the differences (unless dry_run).

    The caller owns the transaction: it commits on success, or rolls back (dry run or error).
    """
    plan = ManifestPlan()
    for item in loaded:
        admin = TenantAdmin(session, Actor(name=f"manifest:{item.path.name}"), base_domain)
        await _apply_one(admin, item.manifest, plan, dry_run)
    return plan


async def _apply_one(admin: TenantAdmin, m: TenantManifest, plan: ManifestPlan, dry_run: bool) -> None:
    branding = msgspec.to_builtins(m.branding)
    settings = {"sso": msgspec.to_builtins(m.sso)}
    tenant = await admin.get_by_slug(m.slug)
    if tenant is None:
        plan.changes.append(f"+ tenant {m.slug}: create ({m.name}, plan {m.plan.value}, {m.seats} seats)")
        if dry_run:
            for d in m.domains:
                plan.changes.append(f"+ domain {d.hostname} ({m.slug})")
            return
        tenant = await admin.create(m.slug, m.name, m.plan, m.seats, m.branding, settings)
    if tenant.status is TenantStatus.DELETED:
        plan.changes.append(f"! tenant {m.slug} is deleted; manifest ignored until it is purged")
        return
    wanted: dict[str, Any] = {
        "name": m.name,
        "plan": m.plan,
        "seats": m.seats,
        "branding": branding,
        "settings": tenant.settings | settings,
        "status": TenantStatus(m.status),
    }
    for key, value in wanted.items():
        current = getattr(tenant, key)
        if current != value:
            plan.changes.append(f"~ tenant {m.slug}: {key} {_show(current)} -> {_show(value)}")
    if not dry_run:
        await admin.update(tenant, **wanted)
    await _apply_domains(admin, tenant.id, m, plan, dry_run)


async def _apply_domains(
    admin: TenantAdmin, tenant_id: Any, m: TenantManifest, plan: ManifestPlan, dry_run: bool
) -> None:
    rows = await admin.session.execute(select(TenantDomain).where(TenantDomain.tenant_id == tenant_id))
    existing = {d.hostname: d for d in rows.scalars()}
    declared = {d.hostname: d for d in m.domains}
    for hostname in sorted(existing.keys() - declared.keys()):
        plan.changes.append(f"- domain {hostname} ({m.slug})")
        if not dry_run:
            await admin.remove_domain(tenant_id, hostname)
    for hostname, spec in declared.items():
        current = existing.get(hostname)
        if current is None:
            plan.changes.append(f"+ domain {hostname} ({m.slug})")
            if not dry_run:
                await admin.add_domain(tenant_id, hostname, spec.primary)
                if spec.verified:
                    await admin.verify_domain(tenant_id, hostname)
            continue
        if current.is_primary != spec.primary:
            plan.changes.append(f"~ domain {hostname} ({m.slug}): primary {current.is_primary} -> {spec.primary}")
            if not dry_run:
                if spec.primary:
                    await admin.clear_primary(tenant_id)
                current.is_primary = spec.primary
                await admin.session.flush()
        if spec.verified and not current.verified:
            plan.changes.append(f"~ domain {hostname} ({m.slug}): verified")
            if not dry_run:
                await admin.verify_domain(tenant_id, hostname)


def _show(value: Any) -> str:
    if isinstance(value, TenantStatus | Plan):
        return value.value
    return repr(value)

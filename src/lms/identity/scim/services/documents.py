"""SCIM documents: users and groups to and from JSON, `eq` filters, and PATCH operations.

PATCH is applied to the resource's current document and the result is stored like a PUT, so every
path form identity providers send (`active`, `name.givenName`, `emails[type eq "work"].value`,
`members[value eq "..."]`, extension URNs, or no path with an object value) goes through one code path.
"""

from __future__ import annotations

import re
from typing import Any

from lms.identity.scim.services.errors import ScimError

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

_FILTER = re.compile(r'^\s*([A-Za-z][\w.:]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_VALUE_FILTER = re.compile(r'^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_PATH = re.compile(r"^(?P<attr>[A-Za-z][\w]*)(?:\[(?P<filter>[^\]]+)\])?(?:\.(?P<sub>[A-Za-z]\w*))?$")


def parse_eq_filter(raw: str, allowed: dict[str, str]) -> tuple[str, str]:
    """`userName eq "a@b.com"` -> ("userName", "a@b.com"); only `eq` on `allowed` attributes (lower -> name)."""
    match = _FILTER.match(raw)
    if match is None:
        raise ScimError(400, f'unsupported filter {raw!r}; use: <attribute> eq "<value>"', "invalidFilter")
    attribute = allowed.get(match.group(1).lower())
    if attribute is None:
        names = ", ".join(sorted(allowed.values()))
        raise ScimError(400, f"filtering on {match.group(1)!r} is not supported (use {names})", "invalidFilter")
    return attribute, match.group(2).replace('\\"', '"').replace("\\\\", "\\")


def as_bool(value: Any, name: str) -> bool:
    # Entra ID sends "True"/"False" strings in PATCH values.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, f"{name} must be a boolean", "invalidValue")


def _key(doc: dict[str, Any], name: str) -> str:
    """The existing key matching `name` case-insensitively (SCIM attribute names are case-insensitive)."""
    for key in doc:
        if key.lower() == name.lower():
            return key
    return name


def _matches(item: Any, condition: str) -> bool:
    match = _VALUE_FILTER.match(condition)
    if match is None:
        raise ScimError(400, f"unsupported value filter {condition!r}", "invalidPath")
    if not isinstance(item, dict):
        return False
    value = item.get(_key(item, match.group(1)))
    return str(value).lower() == match.group(2).lower()


def _container(doc: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    if path.lower().startswith("urn:"):
        urn, _, rest = path.rpartition(":")
        if urn.lower() in (USER_SCHEMA.lower(), GROUP_SCHEMA.lower()):
            return doc, rest
        container = doc.setdefault(_key(doc, urn), {})
        if not isinstance(container, dict):
            raise ScimError(400, f"{urn} is not an object", "invalidPath")
        return container, rest
    return doc, path


def apply_patch(doc: dict[str, Any], body: Any) -> dict[str, Any]:
    """Apply a SCIM PatchOp request body to `doc` (in place) and return it."""
    operations = body.get("Operations") if isinstance(body, dict) else None
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, "a PATCH needs a non-empty Operations list", "invalidSyntax")
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimError(400, "each operation must be an object", "invalidSyntax")
        kind = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if kind not in ("add", "replace", "remove"):
            raise ScimError(400, f"unknown op {operation.get('op')!r}", "invalidSyntax")
        if not path:
            if kind == "remove" or not isinstance(value, dict):
                raise ScimError(400, "an operation without a path needs an object value", "noTarget")
            for name, item in value.items():
                _set(doc, name, item, kind)
        elif kind == "remove":
            _remove(doc, str(path), value)
        else:
            _set(doc, str(path), value, kind)
    return doc


def _set(doc: dict[str, Any], path: str, value: Any, kind: str) -> None:
    if path.lower() == ENTERPRISE_SCHEMA.lower() and isinstance(value, dict):
        doc.setdefault(ENTERPRISE_SCHEMA, {}).update(value)
        return
    container, path = _container(doc, path)
    match = _PATH.match(path)
    if match is None:
        raise ScimError(400, f"unsupported path {path!r}", "invalidPath")
    attr, condition, sub = match.group("attr"), match.group("filter"), match.group("sub")
    key = _key(container, attr)
    if condition is not None:
        items = container.setdefault(key, [])
        selected = [item for item in items if _matches(item, condition)]
        if not selected:
            cond = _VALUE_FILTER.match(condition)
            assert cond is not None
            selected = [{cond.group(1): cond.group(2)}]
            items.append(selected[0])
        for item in selected:
            if sub:
                item[_key(item, sub)] = value
            elif isinstance(value, dict):
                item.update(value)
        return
    if sub is not None:
        nested = container.setdefault(key, {})
        if not isinstance(nested, dict):
            raise ScimError(400, f"{attr} is not an object", "invalidPath")
        nested[_key(nested, sub)] = value
        return
    current = container.get(key)
    if kind == "add" and isinstance(current, list):
        additions = value if isinstance(value, list) else [value]
        for item in additions:
            if item not in current:
                current.append(item)
    elif kind == "add" and isinstance(current, dict) and isinstance(value, dict):
        current.update(value)
    else:
        container[key] = value


def _remove(doc: dict[str, Any], path: str, value: Any) -> None:
    container, path = _container(doc, path)
    match = _PATH.match(path)
    if match is None:
        raise ScimError(400, f"unsupported path {path!r}", "invalidPath")
    attr, condition, sub = match.group("attr"), match.group("filter"), match.group("sub")
    key = _key(container, attr)
    if condition is not None:
        items = container.get(key) or []
        container[key] = [item for item in items if not _matches(item, condition)]
    elif sub is not None:
        nested = container.get(key)
        if isinstance(nested, dict):
            nested.pop(_key(nested, sub), None)
    elif isinstance(value, list) and isinstance(container.get(key), list):
        # Entra ID: {"op": "remove", "path": "members", "value": [{"value": "<id>"}]}
        drop = {str(v.get("value")) for v in value if isinstance(v, dict)}
        container[key] = [item for item in container[key] if str(item.get("value")) not in drop]
    else:
        container.pop(key, None)

"""Fetching identity-provider documents (metadata, discovery, keys) without becoming an SSRF proxy.

Only http(s) URLs; the host must resolve to public addresses only (no private, loopback, link-local,
multicast or reserved targets); no redirects; a timeout and a size cap. Hosts listed in
SSO_ALLOW_PRIVATE_HOSTS (`host:port`, for an IdP inside the company network) skip the address check.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx

from lms.lib.errors import ValidationFailed

TIMEOUT_SECONDS = 5.0
MAX_BYTES = 1_000_000


class FetchRefused(ValidationFailed):
    code = "fetch_refused"


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _host_and_port(url: str, field: str) -> tuple[str, int]:
    """The URL's host (as an IDNA-encodable name or an address) and port, or a 422 naming `field`."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
        if host:
            host.encode("idna")  # labels over 63 characters, empty labels and the like fail here
    except (ValueError, UnicodeError) as exc:
        raise FetchRefused(f"{field} is not a valid URL (bad host name or port)", field=field) from exc
    if parts.scheme not in ("http", "https") or not host:
        raise FetchRefused("only http:// and https:// URLs can be fetched", field=field)
    return host, port


async def check_target(url: str, allowed_private: frozenset[str], field: str) -> None:
    """Refuse URLs that are not http(s), are malformed, or point into private address space."""
    hostname, port = _host_and_port(url, field)
    if f"{hostname}:{port}" in allowed_private:
        return
    try:
        infos = await anyio.to_thread.run_sync(socket.getaddrinfo, hostname, port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchRefused(f"cannot resolve {hostname}", field=field) from exc
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_public(a) for a in addresses):
        raise FetchRefused(f"{hostname} resolves to a private, loopback or link-local address", field=field)


async def _request(
    method: str,
    url: str,
    field: str,
    time_limit: float,
    headers: dict[str, str],
    data: dict[str, str] | None = None,
    auth: httpx.BasicAuth | None = None,
) -> tuple[int, bytes]:
    """One call, whole answer within `time_limit` seconds and MAX_BYTES, no redirects: (status, body)."""
    try:
        with anyio.fail_after(time_limit):
            async with (
                httpx.AsyncClient(timeout=time_limit, follow_redirects=False) as client,
                client.stream(method, url, headers=headers, data=data, auth=auth) as response,
            ):
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_BYTES:
                        raise FetchRefused(f"{field} answered more than {MAX_BYTES} bytes", field=field)
                return response.status_code, bytes(body)
    except TimeoutError as exc:
        raise FetchRefused(f"{field} did not answer within {time_limit:g} s", field=field) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise FetchRefused(f"{field} could not be reached: {type(exc).__name__}", field=field) from exc


async def fetch_document(
    url: str, allowed_private: frozenset[str], field: str = "url", time_limit: float = TIMEOUT_SECONDS
) -> bytes:
    """GET `url` under the rules above; the body is returned only if it fits in MAX_BYTES."""
    await check_target(url, allowed_private, field)
    status, body = await _request("GET", url, field, time_limit, {"Accept": "application/json, application/xml"})
    if status != 200:
        raise FetchRefused(f"{url} answered {status}", field=field)
    return body


async def call_json(
    method: str,
    url: str,
    allowed_private: frozenset[str],
    field: str,
    time_limit: float = TIMEOUT_SECONDS,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    auth: httpx.BasicAuth | None = None,
) -> tuple[int, object]:
    """A token or userinfo call under the same rules: (status, decoded JSON body).

    Unreachable, slow, oversized or non-JSON answers raise FetchRefused naming `field`."""
    await check_target(url, allowed_private, field)
    status, body = await _request(
        method, url, field, time_limit, {"Accept": "application/json", **(headers or {})}, data, auth
    )
    try:
        return status, json.loads(body)
    except ValueError as exc:
        raise FetchRefused(f"{field} answered {status} with a body that is not JSON", field=field) from exc

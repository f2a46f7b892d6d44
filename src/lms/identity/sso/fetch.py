"""Fetching identity-provider documents (metadata, discovery, keys) without becoming an SSRF proxy.

Only http(s) URLs; the host must resolve to public addresses only (no private, loopback, link-local,
multicast or reserved targets); no redirects; a timeout and a size cap. Hosts listed in
SSO_ALLOW_PRIVATE_HOSTS (`host:port`, for an IdP inside the company network) skip the address check.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

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


async def check_target(url: str, allowed_private: frozenset[str], field: str) -> None:
    """Refuse URLs that are not http(s) or that point into private address space."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("only http:// and https:// URLs can be fetched", field=field)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if f"{parts.hostname}:{port}" in allowed_private:
        return
    try:
        infos = await anyio.to_thread.run_sync(socket.getaddrinfo, parts.hostname, port, 0, socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchRefused(f"cannot resolve {parts.hostname}", field=field) from exc
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_public(a) for a in addresses):
        raise FetchRefused(f"{parts.hostname} resolves to a private, loopback or link-local address", field=field)


async def fetch_document(url: str, allowed_private: frozenset[str], field: str = "url") -> bytes:
    """GET `url` under the rules above; the body is returned only if it fits in MAX_BYTES."""
    await check_target(url, allowed_private, field)
    try:
        async with (
            httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json, application/xml"}) as response,
        ):
            if response.status_code != 200:
                raise FetchRefused(f"{url} answered {response.status_code}", field=field)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_BYTES:
                    raise FetchRefused(f"{url} is larger than {MAX_BYTES} bytes", field=field)
            return bytes(body)
    except httpx.HTTPError as exc:
        raise FetchRefused(f"could not fetch {url}: {type(exc).__name__}", field=field) from exc


async def post_form(
    url: str, data: dict[str, str], allowed_private: frozenset[str], auth: tuple[str, str] | None = None
) -> httpx.Response:
    """A token-endpoint POST under the same address rules (no redirects, timeout)."""
    await check_target(url, allowed_private, "token_endpoint")
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        headers = {"Accept": "application/json"}
        if auth is not None:
            return await client.post(url, data=data, auth=httpx.BasicAuth(*auth), headers=headers)
        return await client.post(url, data=data, headers=headers)


async def get_json_with_bearer(url: str, token: str, allowed_private: frozenset[str]) -> httpx.Response:
    await check_target(url, allowed_private, "userinfo_endpoint")
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        return await client.get(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

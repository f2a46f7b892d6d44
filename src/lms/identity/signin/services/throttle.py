"""Sign-in rate limiting and temporary lockout in Redis, per account and per client IP.

Counters are fixed windows: the first failure starts the window (`EXPIRE`), later failures count
inside it. An account locks after ACCOUNT_LIMIT failures for the rest of its window; an IP is
limited after IP_LIMIT failures, whichever accounts it tried.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lms.lib.errors import RateLimited

ACCOUNT_LIMIT = 5
IP_LIMIT = 30
WINDOW_SECONDS = 15 * 60
# Password-reset e-mails per account per hour: enough for a person, useless for flooding an inbox.
RESET_EMAILS_PER_HOUR = 3


@dataclass(frozen=True)
class SignInThrottle:
    redis: Any
    tenant_id: UUID
    # Deployments sharing one Redis keep separate counters (the queue name identifies a deployment).
    namespace: str = "lms"
    account_limit: int = ACCOUNT_LIMIT
    ip_limit: int = IP_LIMIT
    window_seconds: int = WINDOW_SECONDS

    def _account_key(self, email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return f"{self.namespace}:signin:account:{self.tenant_id}:{digest}"

    def _ip_key(self, ip: str) -> str:
        return f"{self.namespace}:signin:ip:{ip}"

    async def check(self, email: str, ip: str) -> None:
        """Refuse (429) before any password is checked when the account or the IP is locked."""
        account_key, ip_key = self._account_key(email), self._ip_key(ip)
        account, by_ip = await self.redis.mget(account_key, ip_key)
        if by_ip is not None and int(by_ip) >= self.ip_limit:
            minutes = await self._minutes_left(ip_key)
            raise RateLimited(
                "too many failed sign-ins from this network; try again in %(minutes)s minutes",
                values={"minutes": minutes},
            )
        if account is not None and int(account) >= self.account_limit:
            minutes = await self._minutes_left(account_key)
            raise RateLimited(
                "this account is temporarily locked; try again in %(minutes)s minutes", values={"minutes": minutes}
            )

    async def record_failure(self, email: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (self._account_key(email), self._ip_key(ip)):
                # The first failure opens the window; INCR keeps the TTL. (Works on Redis 6, unlike EXPIRE NX.)
                pipe.set(key, 0, ex=self.window_seconds, nx=True)
                pipe.incr(key)
            await pipe.execute()

    async def record_success(self, email: str) -> None:
        await self.redis.delete(self._account_key(email))

    async def reset_email_allowed(self, email: str) -> bool:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        key = f"{self.namespace}:reset:{self.tenant_id}:{digest}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=3600, nx=True)
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count) <= RESET_EMAILS_PER_HOUR

    async def _minutes_left(self, key: str) -> int:
        ttl = int(await self.redis.ttl(key))
        return max(1, (ttl + 59) // 60)

"""Settings read from the environment, with documented defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Everything configurable, from environment variables of the same (upper-case) name."""

    # Administrative database URL: creates roles and runs migrations. Absent = embedded PostgreSQL.
    database_url: str | None = None
    # Explicit per-role URLs; derived from database_url when absent.
    database_app_url: str | None = None
    database_operator_url: str | None = None
    database_role_password: str = "lms-local-only"
    redis_url: str | None = None
    celery_queue: str = "lms"
    data_dir: Path = field(default_factory=lambda: Path(".lms-data"))
    public_base_domain: str = "localhost"
    storage_url: str | None = None
    branding_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "branding")
    tenants_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "tenants")
    # Encrypts signing keys and signs links; must be set (and kept) in production.
    secret_key: str = "lms-local-only-secret"
    access_token_minutes: int = 15
    tenant_cache_seconds: float = 10.0
    tenant_purge_after_days: int = 30
    # Name servers that custom-domain checks ask ("ip" or "ip:port", comma-separated); empty = the system's.
    dns_nameservers: tuple[str, ...] = ()
    log_level: str = "INFO"
    log_json: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    # Database connections per API process: `db_pool_size` kept open, up to `db_pool_overflow` more
    # under bursts; a request waits at most `db_pool_timeout` seconds for one, then gets 503 + Retry-After.
    db_pool_size: int = 10
    db_pool_overflow: int = 10
    # Of those, opened by a serving process before its first request (-1: `db_pool_size`; 0: none).
    db_pool_warm: int = -1
    db_pool_timeout: float = 0.5
    # `lms serve`: API processes (one event loop each; one per core is the measured best) and how long
    # an idle keep-alive connection stays open (longer than clients' pauses, e.g. the player's 10 s
    # heartbeats, so that a reused connection is never closed under a client's request).
    api_processes: int = 1
    # Requests one API process serves at once; more are refused at once with 503 + Retry-After (0 = no limit).
    max_in_flight_requests: int = 64
    keep_alive_seconds: int = 75
    # smtp://user:password@host:port (smtps:// for TLS); absent = e-mails are kept in the outbox table and logged.
    smtp_url: str | None = None
    mail_from: str = "no-reply@localhost"
    # host:port pairs of identity providers inside a private network that SSO may fetch from.
    sso_allow_private_hosts: frozenset[str] = frozenset()
    # How long GET /api/v1/me may answer from a per-process cache (0 = always read the database).
    profile_cache_seconds: float = 10.0
    # Scheme of links printed for the outside world (certificate QR codes): "https" in production.
    public_scheme: str = "http"
    # Version of the certificate signing key used for new certificates; older versions keep verifying.
    certificate_key_version: int = 1
    # Public certificate look-ups per client address and tenant, per minute.
    certificate_verify_rate_per_minute: int = 60
    # Media: largest accepted upload (a tenant may set a lower `media_max_upload_bytes`), how long
    # signed stream URLs live, and the transcode time limit per second of video.
    media_max_upload_bytes: int = 20 * 1024**3
    media_url_ttl_seconds: int = 600
    media_seconds_per_video_second: float = 6.0
    # Length of the time chunks the ladder is encoded in, as independent jobs spread over the
    # workers (rounded to whole 6-second segments).
    media_chunk_seconds: int = 60
    # Prometheus metrics: a separate, internal listener (never the public port). In a pod it binds the
    # pod's address so Prometheus can scrape it; locally loopback only.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9100
    # The worker's own metrics listener (jobs, queue depth, fold lag); on METRICS_HOST too.
    worker_metrics_port: int = 9101
    # Time limit of each call to an identity provider (discovery, keys, token, userinfo, metadata).
    sso_timeout_seconds: float = 5.0
    # Long jobs (transcodes, certificate PDFs) renew a lease while they run; a job whose lease
    # lapsed (its worker vanished) is sent again by the reaper, which beat runs every quarter lease.
    job_lease_seconds: float = 120.0
    # The AOF fsync policy Redis must run with (`everysec` or `always`; `` = no check): a worker
    # logs an error at start when Redis persists less, since accepted events would not survive it.
    redis_required_appendfsync: str = "everysec"
    # Stripe: the secret API key, the webhook endpoint's signing secret, and the API's address
    # (only a test stand-in changes it). Without a key, billing pages say payments are not configured.
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str = "https://api.stripe.com"
    # Days a past-due tenant keeps serving learners before it is suspended for them; trial length.
    billing_grace_days: float = 7.0
    billing_trial_days: int = 14
    # A failed Stripe event is retried after base, 2 x base, 4 x base ... seconds, then dead-lettered.
    billing_retry_base_seconds: float = 2.0
    billing_max_attempts: int = 6

    @classmethod
    def from_env(cls) -> Settings:
        base = cls()
        return replace(
            base,
            database_url=_env("DATABASE_URL"),
            database_app_url=_env("DATABASE_APP_URL"),
            database_operator_url=_env("DATABASE_OPERATOR_URL"),
            database_role_password=_env("DATABASE_ROLE_PASSWORD", base.database_role_password) or "",
            redis_url=_env("REDIS_URL"),
            celery_queue=_env("CELERY_QUEUE", base.celery_queue) or base.celery_queue,
            data_dir=Path(_env("LMS_DATA_DIR", str(base.data_dir)) or ".lms-data"),
            public_base_domain=(_env("PUBLIC_BASE_DOMAIN", base.public_base_domain) or "").lower(),
            storage_url=_env("STORAGE_URL"),
            branding_dir=Path(_env("BRANDING_DIR", str(base.branding_dir)) or ""),
            tenants_dir=Path(_env("TENANTS_DIR", str(base.tenants_dir)) or ""),
            secret_key=_env("SECRET_KEY", base.secret_key) or base.secret_key,
            access_token_minutes=int(_env("ACCESS_TOKEN_MINUTES", "15") or 15),
            tenant_cache_seconds=float(_env("TENANT_CACHE_SECONDS", "10") or 10),
            tenant_purge_after_days=int(_env("TENANT_PURGE_AFTER_DAYS", "30") or 30),
            dns_nameservers=tuple(n.strip() for n in (_env("DNS_NAMESERVERS", "") or "").split(",") if n.strip()),
            log_level=(_env("LOG_LEVEL", "INFO") or "INFO").upper(),
            log_json=(_env("LOG_FORMAT", "json") or "json") == "json",
            host=_env("HOST", base.host) or base.host,
            port=int(_env("PORT", str(base.port)) or base.port),
            db_pool_size=int(_env("DB_POOL_SIZE", "10") or 10),
            db_pool_overflow=int(_env("DB_POOL_OVERFLOW", str(base.db_pool_overflow)) or 0),
            db_pool_warm=int(_env("DB_POOL_WARM", str(base.db_pool_warm)) or 0),
            db_pool_timeout=float(_env("DB_POOL_TIMEOUT", str(base.db_pool_timeout)) or base.db_pool_timeout),
            api_processes=int(_env("API_PROCESSES", str(base.api_processes)) or base.api_processes),
            max_in_flight_requests=int(_env("MAX_IN_FLIGHT_REQUESTS", str(base.max_in_flight_requests)) or 0),
            keep_alive_seconds=int(_env("KEEP_ALIVE_SECONDS", str(base.keep_alive_seconds)) or 0),
            smtp_url=_env("SMTP_URL"),
            mail_from=_env("MAIL_FROM", base.mail_from) or base.mail_from,
            profile_cache_seconds=float(_env("PROFILE_CACHE_SECONDS", "10") or 10),
            public_scheme=(_env("PUBLIC_SCHEME", base.public_scheme) or base.public_scheme).lower(),
            certificate_key_version=int(_env("CERTIFICATE_KEY_VERSION", "1") or 1),
            certificate_verify_rate_per_minute=int(_env("CERTIFICATE_VERIFY_RATE_PER_MINUTE", "60") or 60),
            sso_allow_private_hosts=frozenset(
                h.strip().lower() for h in (_env("SSO_ALLOW_PRIVATE_HOSTS", "") or "").split(",") if h.strip()
            ),
            media_max_upload_bytes=int(_env("MEDIA_MAX_UPLOAD_BYTES", str(base.media_max_upload_bytes)) or 0),
            media_url_ttl_seconds=int(_env("MEDIA_URL_TTL_SECONDS", "600") or 600),
            media_seconds_per_video_second=float(_env("MEDIA_SECONDS_PER_VIDEO_SECOND", "6") or 6),
            media_chunk_seconds=int(_env("MEDIA_CHUNK_SECONDS", "60") or 60),
            metrics_host=_env("METRICS_HOST", base.metrics_host) or base.metrics_host,
            metrics_port=int(_env("METRICS_PORT", str(base.metrics_port)) or base.metrics_port),
            worker_metrics_port=int(_env("WORKER_METRICS_PORT", str(base.worker_metrics_port)) or 0),
            sso_timeout_seconds=float(_env("SSO_TIMEOUT_SECONDS", "5") or 5),
            job_lease_seconds=float(_env("JOB_LEASE_SECONDS", "120") or 120),
            redis_required_appendfsync=_env("REDIS_REQUIRED_APPENDFSYNC", "everysec") or "",
            stripe_api_key=_env("STRIPE_API_KEY"),
            stripe_webhook_secret=_env("STRIPE_WEBHOOK_SECRET"),
            stripe_api_base=_env("STRIPE_API_BASE", base.stripe_api_base) or base.stripe_api_base,
            billing_grace_days=float(_env("BILLING_GRACE_DAYS", "7") or 7),
            billing_trial_days=int(_env("BILLING_TRIAL_DAYS", "14") or 14),
            billing_retry_base_seconds=float(_env("BILLING_RETRY_BASE_SECONDS", "2") or 2),
            billing_max_attempts=int(_env("BILLING_MAX_ATTEMPTS", "6") or 6),
        )

    def role_url(self, role: str) -> str:
        """The administrative URL with the user and password swapped for one of the platform roles."""
        explicit = {"lms_app": self.database_app_url, "lms_operator": self.database_operator_url}.get(role)
        if explicit:
            return explicit
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set and the embedded runtime was not started")
        return with_credentials(self.database_url, role, self.database_role_password)


def with_credentials(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user)}:{quote(password)}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def async_url(url: str) -> str:
    """SQLAlchemy URL for asyncpg from a plain postgresql:// URL."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else url


def sync_url(url: str) -> str:
    """SQLAlchemy URL for psycopg (Alembic, loaders) from a plain postgresql:// URL."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url


@lru_cache
def get_settings() -> Settings:
    return Settings.from_env()

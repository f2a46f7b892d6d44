"""create_app(): plugins, middleware, and each domain's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusController
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from lms.assessments.assignment_controllers import (
    AssignmentController,
    PeerReviewController,
    SubmissionController,
)
from lms.assessments.controllers import AttemptController, QuestionBankController, QuizController
from lms.catalog.controllers import (
    CatalogueSearchController,
    CourseController,
    ProgramController,
    SharedCatalogueController,
)
from lms.catalog.operator_controllers import SharedCatalogueOperatorController
from lms.certificates.controllers import CertificateAdminController, MyCertificatesController, VerificationController
from lms.config import PROJECT_ROOT, Settings, get_settings
from lms.db.engines import create_database
from lms.db.providers import provide_db_session
from lms.health import health, ready
from lms.identity.controllers import AuthController, MeController, PasswordController, UsersController, jwks
from lms.identity.keys import KeyRing
from lms.identity.mfa_routes import IdentitySettingsController, MfaEnrolmentController, MyMfaController
from lms.identity.pages import SignInPagesController
from lms.identity.principal import provide_principal
from lms.identity.revocation import RevokedTokens
from lms.identity.scim.controllers import ScimController, ScimTokensController
from lms.identity.sso.controllers import SsoDiscoveryController, SsoFlowController, SsoProvidersController
from lms.identity.sso.saml_routes import SamlController, SamlProvidersController
from lms.learning.controllers import (
    CourseVersionMigrationController,
    EnrollmentController,
    LearnerController,
    ProgressController,
)
from lms.learning.dead_letters import refresh_dead_letter_gauge
from lms.learning.operator_controllers import DeadLetterOperatorController
from lms.lib.errors import EXCEPTION_HANDLERS
from lms.lib.jobs import build_celery, set_job_sender
from lms.lib.pagination import provide_page_params
from lms.lib.redis_clients import blocking_redis
from lms.lib.telemetry import configure_logging, prometheus_config, request_context_middleware
from lms.media.controllers import MediaStaffController, PlaybackController, PlayerPagesController, StreamController
from lms.tenancy.controllers import OperatorController
from lms.tenancy.middleware import TenantMiddleware
from lms.tenancy.resolver import TenantResolver, internal_hosts_only
from lms.web.controllers import TenantPagesController


def redis_client(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client whose pool waits for a free connection under bursts instead of failing, and
    retries a command once a Redis restart closed its pooled connection."""
    return blocking_redis(url, max_connections, timeout=5)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings)
    metrics = prometheus_config()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = create_database(settings)
        app.state.settings = settings
        app.state.db = db
        app.state.tenant_resolver = TenantResolver(
            db.app_sessions, settings.public_base_domain, settings.tenant_cache_seconds
        )
        app.state.key_ring = KeyRing(db.app_sessions, settings.secret_key)
        app.state.revoked_tokens = RevokedTokens(db.app_sessions, settings.access_token_minutes * 60)
        app.state.redis = redis_client(settings.redis_url or "")
        set_job_sender(build_celery(settings))
        try:
            yield
        finally:
            await app.state.redis.aclose()
            await db.dispose()

    class MetricsController(PrometheusController):
        path = "/metrics"
        openmetrics_format = False
        guards = [internal_hosts_only]
        before_request = staticmethod(refresh_dead_letter_gauge)

    # Each domain adds its controllers here.
    route_handlers: list[ControllerRouterHandler] = [
        health,
        ready,
        MetricsController,
        jwks,
        OperatorController,
        MeController,
        AuthController,
        UsersController,
        PasswordController,
        ScimController,
        ScimTokensController,
        SsoProvidersController,
        SsoDiscoveryController,
        SsoFlowController,
        SamlProvidersController,
        SamlController,
        MyMfaController,
        MfaEnrolmentController,
        IdentitySettingsController,
        SignInPagesController,
        TenantPagesController,
        CourseController,
        CatalogueSearchController,
        SharedCatalogueController,
        ProgramController,
        SharedCatalogueOperatorController,
        DeadLetterOperatorController,
        CourseVersionMigrationController,
        EnrollmentController,
        ProgressController,
        LearnerController,
        QuestionBankController,
        QuizController,
        AttemptController,
        AssignmentController,
        SubmissionController,
        PeerReviewController,
        VerificationController,
        MyCertificatesController,
        CertificateAdminController,
        create_static_files_router(path="/static", directories=[settings.branding_dir / "static"]),
        MediaStaffController,
        PlaybackController,
        StreamController,
        PlayerPagesController,
        # hls.js pinned in package.json, installed by `npm ci`, served from this site.
        create_static_files_router(path="/static/vendor/hls", directories=[PROJECT_ROOT / "node_modules/hls.js/dist"]),
    ]

    return Litestar(
        route_handlers=route_handlers,
        # Request-scoped pieces every domain's handlers may ask for by name.
        dependencies={
            "db_session": Provide(provide_db_session),
            "principal": Provide(provide_principal),
            "page": Provide(provide_page_params, sync_to_thread=False),
        },
        lifespan=[lifespan],
        # Outermost first: request id, then tenant (so metrics can label by tenant), then metrics.
        middleware=[
            request_context_middleware,
            DefineMiddleware(TenantMiddleware),
            metrics.middleware,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=TemplateConfig(directory=settings.branding_dir / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(title="Learning platform API", version="1"),
        debug=False,
    )

"""create_app(): plugins, middleware, and each domain's routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler

from lms.api_description import ApiDescription, openapi_config
from lms.assessments.assignments.controllers import (
    AssignmentController,
    PeerReviewController,
    SubmissionController,
)
from lms.assessments.assignments.pages import AssignmentPagesController
from lms.assessments.quizzes.controllers import AttemptController, QuestionBankController, QuizController
from lms.assessments.quizzes.pages import QuizPagesController
from lms.catalog.controllers import (
    CatalogueSearchController,
    CourseController,
    ProgramController,
    SharedCatalogueController,
    SharedCatalogueOperatorController,
)
from lms.catalog.pages import CataloguePagesController
from lms.certificates.controllers import CertificateAdminController, MyCertificatesController, VerificationController
from lms.certificates.pages import CertificatePagesController
from lms.config import PROJECT_ROOT, Settings, get_settings
from lms.db.engines import create_database
from lms.health import health, ready
from lms.identity.accounts.pages import AccountPagesController
from lms.identity.controllers import AuthController, MeController, PasswordController, UsersController, jwks
from lms.identity.mfa.controllers import IdentitySettingsController, MfaEnrolmentController, MyMfaController
from lms.identity.scim.controllers import ScimController, ScimTokensController
from lms.identity.signin.pages import SignInPagesController, SignOutController
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.revocation import RevokedTokens
from lms.identity.sso.controllers import SsoDiscoveryController, SsoFlowController, SsoProvidersController
from lms.identity.sso.saml.controllers import SamlController, SamlProvidersController
from lms.learning.controllers import (
    CourseVersionMigrationController,
    DeadLetterOperatorController,
    EnrollmentController,
    LearnerController,
    ProgressController,
)
from lms.learning.pages import LessonPagesController, MyLearningPagesController
from lms.learning.services.dead_letters import keep_dead_letter_gauge_fresh
from lms.lib.admission import Admission, InFlightLimit
from lms.lib.edge import edge_middleware
from lms.lib.errors import EXCEPTION_HANDLERS
from lms.lib.jobs import build_celery, set_job_sender
from lms.lib.redis_clients import blocking_redis
from lms.lib.telemetry import configure_logging, prometheus_config, request_context_middleware
from lms.media.controllers import MediaStaffController, PlaybackController, StreamController
from lms.media.pages import PlayerPagesController
from lms.providers import APP_DEPENDENCIES
from lms.tenancy.controllers import (
    AdminAuditController,
    BrandLogoController,
    OperatorController,
    SiteBrandingController,
    SiteDomainsController,
)
from lms.tenancy.pages import AuditPagesController, BrandingPagesController, DomainPagesController
from lms.tenancy.services.middleware import TenantMiddleware
from lms.tenancy.services.resolver import TenantResolver
from lms.web.assets import AssetManifest, logical_sources, serve_asset
from lms.web.controllers import DesignSystemController
from lms.web.errors import brand_unrouted_errors, error_page
from lms.web.templating import configure_templates


def redis_client(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client whose pool waits for a free connection under bursts instead of failing, and
    retries a command once a Redis restart closed its pooled connection."""
    return blocking_redis(url, max_connections, timeout=5)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings)
    metrics = prometheus_config()
    assets = AssetManifest(logical_sources(settings.branding_dir))

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
        dead_letter_gauge = asyncio.create_task(keep_dead_letter_gauge_fresh(db))
        try:
            yield
        finally:
            dead_letter_gauge.cancel()
            await app.state.redis.aclose()
            await db.dispose()

    # Each domain adds its controllers here.
    route_handlers: list[ControllerRouterHandler] = [
        health,
        ready,
        jwks,
        OperatorController,
        AdminAuditController,
        SiteDomainsController,
        SiteBrandingController,
        BrandLogoController,
        AuditPagesController,
        DomainPagesController,
        BrandingPagesController,
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
        SignOutController,
        AccountPagesController,
        MyLearningPagesController,
        LessonPagesController,
        DesignSystemController,
        CataloguePagesController,
        CertificatePagesController,
        QuizPagesController,
        AssignmentPagesController,
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
        serve_asset,
        # The API documentation pages' scripts, pinned in package.json like hls.js (they work offline).
        create_static_files_router(
            path="/static/vendor/swagger-ui", directories=[PROJECT_ROOT / "node_modules/swagger-ui-dist"]
        ),
        create_static_files_router(
            path="/static/vendor/redoc", directories=[PROJECT_ROOT / "node_modules/redoc/bundles"]
        ),
    ]

    return Litestar(
        route_handlers=route_handlers,
        # Request-scoped pieces every domain's handlers may ask for by name.
        dependencies=APP_DEPENDENCIES,
        lifespan=[lifespan],
        # Outermost first: admission (refuse past the in-flight limit), request id, then tenant (so metrics
        # can label by tenant), then metrics.
        middleware=[
            DefineMiddleware(InFlightLimit, gate=Admission(settings.max_in_flight_requests)),
            request_context_middleware,
            edge_middleware,  # refuses input the database cannot hold, before the tenant lookup reads the host
            TenantMiddleware(),
            metrics.middleware,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[brand_unrouted_errors],
        template_config=TemplateConfig(
            directory=settings.branding_dir / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates(assets),
        ),
        # The design system's files, and the HTML error pages browsers get (lms.lib.errors asks for them).
        state=State({"assets": assets, "error_page": error_page}),
        openapi_config=openapi_config(),
        plugins=[ApiDescription()],
        debug=False,
    )

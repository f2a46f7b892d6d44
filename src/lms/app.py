"""create_app(): plugins, middleware, and each domain's routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import ControllerRouterHandler
from prometheus_client import REGISTRY

from lms.analytics.courses.pages import CourseAnalyticsPagesController
from lms.analytics.recommendations.controllers import MyRecommendationsController
from lms.analytics.recommendations.pages import LearningGoalPagesController
from lms.analytics.videos.controllers import VideoAnalyticsController
from lms.analytics.videos.pages import VideoAnalyticsPagesController
from lms.api_description import ApiDescription, openapi_config
from lms.assessments.assignments.controllers import (
    AssignmentController,
    PeerReviewController,
    SubmissionController,
)
from lms.assessments.assignments.pages import AssignmentPagesController, GradingPagesController
from lms.assessments.quizzes.controllers import AttemptController, QuestionBankController, QuizController
from lms.assessments.quizzes.pages import QuizPagesController
from lms.assessments.studio.pages import AssessmentStudioPagesController
from lms.billing.controllers import (
    CoursePurchaseController,
    OperatorBillingController,
    PlansController,
    StripeWebhookController,
    SubscriptionController,
)
from lms.billing.guards import requires_billing_standing
from lms.billing.pages import (
    BillingPagesController,
    CoursePurchasePagesController,
    PlanChangePagesController,
    RefundPagesController,
)
from lms.catalog.controllers import (
    CatalogueSearchController,
    CourseController,
    CourseCoverController,
    ProgramController,
    SharedCatalogueController,
    SharedCatalogueOperatorController,
)
from lms.catalog.pages import CataloguePagesController
from lms.catalog.studio.pages import StudioPagesController
from lms.certificates.controllers import CertificateAdminController, MyCertificatesController, VerificationController
from lms.certificates.pages import CertificatePagesController
from lms.compliance.controllers import (
    ComplianceReportController,
    TeamComplianceController,
    TrainingAssignmentController,
)
from lms.compliance.pages import TeamTrainingPagesController, TrainingPagesController
from lms.config import PROJECT_ROOT, Settings, get_settings
from lms.db.engines import create_database
from lms.db.warm import warm_pool
from lms.discussions.controllers import CourseDiscussionController, DiscussionController
from lms.discussions.pages import DiscussionPagesController
from lms.health import health, ready
from lms.identity.accounts.pages import AccountPagesController
from lms.identity.accounts.services.directory import seat_take_hooks
from lms.identity.controllers import AuthController, MeController, PasswordController, UsersController, jwks
from lms.identity.guards import standing_checks
from lms.identity.mfa.controllers import IdentitySettingsController, MfaEnrolmentController, MyMfaController
from lms.identity.scim.controllers import ScimController, ScimTokensController
from lms.identity.scim.pages import ScimTokenPagesController
from lms.identity.signin.pages import SignInPagesController, SignOutController
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.revocation import RevokedTokens
from lms.identity.sso.controllers import (
    SsoDiscoveryController,
    SsoFlowController,
    SsoProvidersController,
    SsoSettingsController,
)
from lms.identity.sso.oidc.pages import OidcPagesController
from lms.identity.sso.saml.controllers import SamlController, SamlProvidersController
from lms.identity.sso.saml.pages import SamlPagesController
from lms.identity.sso.setup.pages import SsoSetupPagesController
from lms.learning.controllers import (
    CourseVersionMigrationController,
    DeadLetterOperatorController,
    EnrollmentController,
    LearnerController,
    ProgressController,
)
from lms.learning.pages import LessonPagesController, MyLearningPagesController
from lms.learning.services.dead_letters import keep_dead_letter_gauge_fresh
from lms.learning.services.seats import reserve_seat_if_enrolled
from lms.lib.admission import Admission, InFlightLimit
from lms.lib.collector import settle_after_start_up
from lms.lib.edge import edge_middleware
from lms.lib.errors import EXCEPTION_HANDLERS
from lms.lib.guard_calls import call_guards_with_the_handler
from lms.lib.metrics import DatabasePoolCollector
from lms.lib.redis_clients import blocking_redis
from lms.lib.telemetry import configure_logging, request_context_middleware, request_metrics_middleware
from lms.lib.tracing import tracing_plugins
from lms.media.controllers import MediaStaffController, PlaybackController, StreamController
from lms.media.pages import MediaStudioPagesController, PlayerPagesController
from lms.notifications.controllers import (
    AnnouncementController,
    MyNotificationPreferencesController,
    MyNotificationsController,
)
from lms.notifications.pages import NotificationPagesController, UnsubscribePagesController
from lms.organisation.controllers import (
    AdminPeopleController,
    AdminSetupController,
    GroupController,
    TeamController,
    UserExportController,
    UserImportController,
)
from lms.organisation.pages import (
    AdminPagesController,
    GroupPagesController,
    ImportPagesController,
    TeamPagesController,
)
from lms.privacy.controllers import PersonalDataController, PrivacySettingsController
from lms.privacy.pages import PrivacyPagesController, PrivacySettingsPagesController
from lms.providers import APP_DEPENDENCIES
from lms.tenancy.console.pages import OperatorConsolePages, OperatorSignInPages
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
from lms.web.errors import error_page, localised_message, prepare_error_page
from lms.web.layout import PAGE_DEPENDENCIES, before_page
from lms.web.templating import configure_templates


def redis_client(url: str, max_connections: int = 64) -> aioredis.Redis:
    """A client whose pool waits for a free connection under bursts instead of failing, and
    retries a command once a Redis restart closed its pooled connection."""
    return blocking_redis(url, max_connections, timeout=5)


def create_served_app() -> Litestar:
    """The app of a serving process (`lms api`, the benchmarks): `create_app()` from the environment, and
    once started its database pool warmed (lms.db.warm) and the garbage collector settled for serving
    (lms.lib.collector). Tests build apps with `create_app`, whose processes keep the collector's
    defaults and open connections as they need them."""
    app = create_app()
    app.on_startup.append(warm_database_pool)
    app.on_startup.append(settle_after_start_up)
    return app


async def warm_database_pool(app: Litestar) -> None:
    """`DB_POOL_WARM` (by default `DB_POOL_SIZE`) connections opened before the first request (lms.db.warm)."""
    settings: Settings = app.state.settings
    connections = settings.db_pool_size if settings.db_pool_warm < 0 else settings.db_pool_warm
    await warm_pool(app.state.db.app_engine, min(connections, settings.db_pool_size + settings.db_pool_overflow))


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings)
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
        dead_letter_gauge = asyncio.create_task(keep_dead_letter_gauge_fresh(db))
        pools = DatabasePoolCollector({"lms_app": db.app_engine, "lms_operator": db.operator_engine})
        REGISTRY.register(pools)
        try:
            yield
        finally:
            REGISTRY.unregister(pools)
            dead_letter_gauge.cancel()
            await app.state.redis.aclose()
            await db.dispose()

    call_guards_with_the_handler()
    # Learners of a site suspended for non-payment are refused after sign-in; its admins can still pay.
    if requires_billing_standing not in standing_checks:
        standing_checks.append(requires_billing_standing)
    # A returning (reactivated) learner takes a seat again, within the licence.
    if reserve_seat_if_enrolled not in seat_take_hooks:
        seat_take_hooks.append(reserve_seat_if_enrolled)

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
        MeController,
        AuthController,
        UsersController,
        PasswordController,
        ScimController,
        ScimTokensController,
        SsoProvidersController,
        SsoSettingsController,
        SsoDiscoveryController,
        SsoFlowController,
        SamlProvidersController,
        SamlController,
        MyMfaController,
        MfaEnrolmentController,
        IdentitySettingsController,
        SignOutController,
        # Every page controller goes here: its `db_session` also reads the signed-in viewer (one
        # transaction per page request; a test keeps every `before_page` controller here).
        Router(
            path="/",
            route_handlers=[
                SignInPagesController,
                AccountPagesController,
                MyLearningPagesController,
                LessonPagesController,
                DesignSystemController,
                CataloguePagesController,
                CertificatePagesController,
                QuizPagesController,
                AssignmentPagesController,
                PlayerPagesController,
                OperatorSignInPages,
                OperatorConsolePages,
                AuditPagesController,
                DomainPagesController,
                BrandingPagesController,
                AdminPagesController,
                ImportPagesController,
                TeamPagesController,
                GroupPagesController,
                TrainingPagesController,
                TeamTrainingPagesController,
                SsoSetupPagesController,
                OidcPagesController,
                SamlPagesController,
                ScimTokenPagesController,
                PrivacyPagesController,
                PrivacySettingsPagesController,
                StudioPagesController,
                CourseAnalyticsPagesController,
                VideoAnalyticsPagesController,
                AssessmentStudioPagesController,
                MediaStudioPagesController,
                GradingPagesController,
                NotificationPagesController,
                UnsubscribePagesController,
                DiscussionPagesController,
                LearningGoalPagesController,
                BillingPagesController,
                PlanChangePagesController,
                RefundPagesController,
                CoursePurchasePagesController,
            ],
            dependencies=PAGE_DEPENDENCIES,
            before_request=before_page,
        ),
        AdminSetupController,
        AdminPeopleController,
        UserImportController,
        UserExportController,
        TeamController,
        GroupController,
        PersonalDataController,
        PrivacySettingsController,
        TrainingAssignmentController,
        ComplianceReportController,
        TeamComplianceController,
        CourseController,
        CourseCoverController,
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
        MyNotificationsController,
        MyNotificationPreferencesController,
        AnnouncementController,
        CourseDiscussionController,
        DiscussionController,
        MyRecommendationsController,
        VideoAnalyticsController,
        PlansController,
        SubscriptionController,
        CoursePurchaseController,
        StripeWebhookController,
        OperatorBillingController,
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
            request_metrics_middleware,
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[prepare_error_page],
        template_config=TemplateConfig(
            directory=settings.branding_dir / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates(assets),
        ),
        # The design system's files, and the HTML error pages browsers get (lms.lib.errors asks for them).
        state=State({"assets": assets, "error_page": error_page, "localised_message": localised_message}),
        openapi_config=openapi_config(),
        plugins=[ApiDescription(), *tracing_plugins(settings)],
        # Logging is the platform's (lms.lib.logs: JSON lines for structlog and the standard library alike).
        logging_config=None,
        debug=False,
    )

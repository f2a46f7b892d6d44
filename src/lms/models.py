"""The model registry: imports every domain's models so the metadata is complete (Alembic, the RLS
suite, tenant purges). It lives at the application level because `db/` knows no domain."""

from lms.analytics.courses import models as course_analytics_models
from lms.analytics.recommendations import models as recommendation_models
from lms.analytics.videos import models as video_analytics_models
from lms.assessments import models as assessment_models
from lms.billing import models as billing_models
from lms.catalog import models as catalog_models
from lms.certificates import models as certificate_models
from lms.compliance import models as compliance_models
from lms.db.base import metadata
from lms.discussions import models as discussion_models
from lms.identity import models as identity_models
from lms.identity.signin.services import keys as identity_keys
from lms.learning import models as learning_models
from lms.lib import mail as mail_models
from lms.media import models as media_models
from lms.notifications import models as notification_models
from lms.organisation import models as organisation_models
from lms.privacy import models as privacy_models
from lms.tenancy import models as tenancy_models

__all__ = [
    "assessment_models",
    "billing_models",
    "catalog_models",
    "certificate_models",
    "compliance_models",
    "course_analytics_models",
    "discussion_models",
    "identity_keys",
    "identity_models",
    "learning_models",
    "mail_models",
    "media_models",
    "metadata",
    "notification_models",
    "organisation_models",
    "privacy_models",
    "recommendation_models",
    "tenancy_models",
    "video_analytics_models",
]

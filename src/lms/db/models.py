"""Imports every model so that the metadata is complete (Alembic, the RLS suite, purges)."""

from lms.assessments import models as assessment_models
from lms.catalog import models as catalog_models
from lms.certificates import models as certificate_models
from lms.db.base import metadata
from lms.identity import keys as identity_keys
from lms.identity import models as identity_models
from lms.learning import models as learning_models
from lms.tenancy import models as tenancy_models

__all__ = [
    "assessment_models",
    "catalog_models",
    "certificate_models",
    "identity_keys",
    "identity_models",
    "learning_models",
    "metadata",
    "tenancy_models",
]
from lms.media import models as media_models

__all__ += ["media_models"]

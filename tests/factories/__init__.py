"""Row factories, one module per domain; importing this package registers them all."""

from tests.factories import (
    analytics,
    assessments,
    billing,
    catalog,
    certificates,
    compliance,
    discussions,
    identity,
    learning,
    media,
    notifications,
    organisation,
    privacy,
    tenancy,
)
from tests.factories.base import ROW_FACTORIES, RowFactory, row_factory

__all__ = [
    "ROW_FACTORIES",
    "RowFactory",
    "analytics",
    "assessments",
    "billing",
    "catalog",
    "certificates",
    "compliance",
    "discussions",
    "identity",
    "learning",
    "media",
    "notifications",
    "organisation",
    "privacy",
    "row_factory",
    "tenancy",
]

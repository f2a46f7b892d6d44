"""Row factories, one module per domain; importing this package registers them all."""

from tests.factories import analytics, assessments, catalog, certificates, identity, learning, media, tenancy
from tests.factories.base import ROW_FACTORIES, RowFactory, row_factory

__all__ = [
    "ROW_FACTORIES",
    "RowFactory",
    "analytics",
    "assessments",
    "catalog",
    "certificates",
    "identity",
    "learning",
    "media",
    "row_factory",
    "tenancy",
]

"""Row factories, one module per domain; importing this package registers them all."""

from tests.factories import assessments, catalog, certificates, identity, learning, media, organisation, tenancy
from tests.factories.base import ROW_FACTORIES, RowFactory, row_factory

__all__ = [
    "ROW_FACTORIES",
    "RowFactory",
    "assessments",
    "catalog",
    "certificates",
    "identity",
    "learning",
    "media",
    "organisation",
    "row_factory",
    "tenancy",
]

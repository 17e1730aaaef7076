"""The sourced model catalog: schema, loader, merged view and local-model importers."""

from llmatlas.catalog.catalog import Catalog, load_catalog
from llmatlas.catalog.schema import Model

__all__ = ["Catalog", "Model", "load_catalog"]

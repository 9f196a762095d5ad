"""Read uploads (CSV/TSV/any delimiter, Parquet, MovieLens and HetRec layouts), validate
them completely, then load them in one transaction.

Typical use::

    plan = guess_plan([path_a, path_b])
    result = load_dataset(store, plan)      # raises ValidationError, nothing written
"""

from __future__ import annotations

from recsys_engine.ingest.checks import validate_plan
from recsys_engine.ingest.guess import guess_plan
from recsys_engine.ingest.load import LoadResult, load_dataset
from recsys_engine.ingest.plan import (
    DUPLICATE_RULES,
    ROLES,
    FilePlan,
    InteractionMapping,
    ItemMapping,
    LoadOptions,
    TagMapping,
    TagNamesMapping,
    UploadPlan,
    UserMapping,
)
from recsys_engine.ingest.sniff import FileSniff, sniff_file

__all__ = [
    "DUPLICATE_RULES",
    "ROLES",
    "FilePlan",
    "FileSniff",
    "InteractionMapping",
    "ItemMapping",
    "LoadOptions",
    "LoadResult",
    "TagMapping",
    "TagNamesMapping",
    "UploadPlan",
    "UserMapping",
    "guess_plan",
    "load_dataset",
    "sniff_file",
    "validate_plan",
]

"""The redis-om internals this project leans on, fenced here: a redis-om upgrade is checked in this file.

redis-om (1.2.0, pinned) has no public way to do three things the gallery needs:
- point a model at a client and a key prefix chosen at run time (PIGALLERY_KEY_PREFIX, tests' own
  prefixes): it reads them from the model's `_meta`, set here (bind());
- tell whether the index matches the model's schema: its Migrator keeps a hash of the schema it
  created under a key only its legacy migrator module names (schema_hash_key);
- create or rebuild that index: Migrator, which logs and swallows FT.CREATE's errors (index.schema
  checks the outcome itself).
"""
from __future__ import annotations

from redis_om import Migrator
from redis_om.model.migrations.schema.legacy_migrator import schema_hash_key, schema_text_key

__all__ = ["Migrator", "bind", "key_prefix", "schema_hash_key", "schema_text_key"]


def bind(model, database, prefix: str) -> None:
    """Give `model` its client and key prefix; its index is named after them (`<prefix>:capture:index`)."""
    meta = model._meta
    meta.database = database
    meta.global_key_prefix = prefix
    meta.index_name = f"{prefix}:{meta.model_key_prefix}:index"


def key_prefix(model) -> str:
    """The key prefix `model` is bound under (models.db.DEFAULT_KEY_PREFIX until bound)."""
    return model._meta.global_key_prefix

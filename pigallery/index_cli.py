"""`pigallery index create|info|drop|rebuild|backfill|rollups`."""
from __future__ import annotations

import click

from index import schema
from models import rollups as model_rollups
from models.db import connect

from .config import Settings


@click.group("index")
@click.pass_obj
def index_group(settings: Settings) -> None:
    """Manage the RediSearch index over captures."""
    connect(settings.redis_url, settings.key_prefix)


@index_group.command()
def create() -> None:
    """Create the index, or migrate it to the model's schema.

    A schema change rebuilds the index (captures kept) and backfills fields older captures lack.
    """
    try:
        state = schema.migrate()
    except schema.IndexNotCreated as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"index {schema.name()}: {state}")
    # A new schema may index a field older captures lack; while RediSearch is still indexing,
    # missing_day_second() cannot tell, so the hashes themselves are looked at.
    if state != "unchanged" or schema.info().get("indexing") or schema.missing_day_second():
        _backfill()
    # Captures stored by a version without rollups (or without their bands) were never counted:
    # count them now, once. While RediSearch re-indexes, num_docs is still short of the captures
    # (maybe 0): count then too.
    indexed = schema.info()
    missing = any(model_rollups.counted(field) is None for field in (None, *(f for f, _, _ in model_rollups.BANDED)))
    if missing and (indexed.get("num_docs") or indexed.get("indexing")):
        _recount()


def _backfill() -> None:
    from tqdm import tqdm

    state = schema.info()
    total = None if state.get("indexing") else state.get("num_docs")  # a count still growing would mislead
    with tqdm(total=total, unit="capture", desc="backfill day_second", disable=None) as bar:
        done = schema.backfill(bar.update)
    click.echo(f"day_second written on {done['written']} of {done['captures']} captures")


@index_group.command()
def backfill() -> None:
    """Fill in fields that older captures lack.

    Today that is day_second, which time-of-day filters need.
    """
    _backfill()


@index_group.command()
def info() -> None:
    """Show the document count and indexing state."""
    state = schema.info()
    if not state:
        raise click.ClickException(f"index {schema.name()} does not exist: run `pigallery index create`")
    for key, value in state.items():
        click.echo(f"{key:>22}: {value}")
    if not state["indexing"]:
        missing = schema.missing_day_second()
        click.echo(f"{'without day_second':>22}: {missing}" + (" (run `pigallery index backfill`)" if missing else ""))


@index_group.command()
@click.option("--delete-documents", is_flag=True, help="Also delete every capture (asks first).")
def drop(delete_documents: bool) -> None:
    """Drop the index; captures are kept unless --delete-documents."""
    if delete_documents:
        click.confirm("Delete every capture as well as the index?", abort=True)
    if not schema.drop(delete_documents):
        raise click.ClickException(f"index {schema.name()} does not exist")
    if delete_documents:
        model_rollups.clear()  # they counted the captures just deleted
    click.echo(f"dropped index {schema.name()}" + (" and its captures" if delete_documents else "; captures kept"))


@index_group.command()
def rebuild() -> None:
    """Recreate the index over the stored captures and wait for it."""
    from tqdm import tqdm

    with tqdm(total=100, unit="%", desc="indexing", disable=None) as bar:
        def progress(pct: float) -> None:
            bar.update(pct - bar.n)

        state = schema.rebuild(progress)
    click.echo(f"index {schema.name()} rebuilt: {state['num_docs']} captures")
    if schema.missing_day_second():
        _backfill()


def _recount() -> None:
    from tqdm import tqdm

    state = schema.info()
    # The index's count while it is still indexing would be short: no total then.
    total = None if not state or state.get("indexing") else state.get("num_docs")
    with tqdm(total=total, unit="capture", desc="counting rollups", disable=None) as bar:
        counted = model_rollups.recount_all(bar.update)
    click.echo(f"rollups: {counted} captures counted")


@index_group.command("rollups")
def rollups_command() -> None:
    """Count every stored capture again into the rollups.

    Run it after upgrading from a version without rollups (`create` does it when they are
    missing), or after hashes were written around the model. Captures stored meanwhile may be
    miscounted: run it when no Pi is writing.
    """
    _recount()

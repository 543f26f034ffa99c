"""`pigallery index create|info|drop|rebuild|backfill`."""
from __future__ import annotations

import click

from index import schema
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

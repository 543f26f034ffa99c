"""`pigallery index create|info|drop|rebuild`."""
from __future__ import annotations

import click

from pigallery.cli import connect
from pigallery.config import Settings

from . import schema


@click.group("index")
@click.pass_obj
def index_group(settings: Settings) -> None:
    """Manage the RediSearch index over captures."""
    connect(settings)


@index_group.command()
def create() -> None:
    """Create the index (or rebuild it if the model's schema changed)."""
    try:
        click.echo(f"index {schema.name()}: {schema.migrate()}")
    except schema.IndexNotCreated as exc:
        raise click.ClickException(str(exc)) from None


@index_group.command()
def info() -> None:
    """Show the document count and indexing state."""
    state = schema.info()
    if not state:
        raise click.ClickException(f"index {schema.name()} does not exist: run `pigallery index create`")
    for key, value in state.items():
        click.echo(f"{key:>22}: {value}")


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

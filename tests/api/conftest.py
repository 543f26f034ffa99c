"""Fixtures for the API tests: captures loaded once per module, deleted afterwards."""
from __future__ import annotations

import pytest
from api_helpers import START, Dataset


@pytest.fixture(scope="session")
def tiny_jpeg() -> bytes:
    from capture import synthetic

    return synthetic.render(START, (32, 24))[0]


@pytest.fixture(scope="module")
def make_dataset(redis_url, tiny_jpeg):
    """Return a factory storing rows of metadata as captures; everything is deleted afterwards."""
    made: list[Dataset] = []

    def make(rows: list[dict]) -> Dataset:
        made.append(Dataset(redis_url, rows, tiny_jpeg))
        return made[-1]

    yield make
    for data in made:
        data.drop()

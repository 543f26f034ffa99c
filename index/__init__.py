"""The RediSearch index over captures: definition, migrations, query and facet helpers."""

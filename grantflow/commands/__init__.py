"""Command groups of the ``grantflow`` CLI, one module each (see grantflow.cli)."""

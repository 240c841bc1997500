"""Plain-Python media and ML steps. Nothing in this package imports Dagster."""

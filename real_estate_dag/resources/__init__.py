"""Dagster resources: storage, the IO manager for small tables, settings from the environment."""

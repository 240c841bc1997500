"""Dagster assets and checks: thin wiring around ``real_estate_dag.ops``."""

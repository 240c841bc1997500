"""Sensors: the upload sensor that turns manifests into partitions and runs."""

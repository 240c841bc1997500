"""Device choice, model backends with provenance, batching, and the registry resource."""

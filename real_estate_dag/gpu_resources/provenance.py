"""Which model produced an analysis asset's values, as metadata shown next to what it computed."""

from real_estate_dag.gpu_resources.backends import LoadedModel


def provenance(model: LoadedModel) -> dict[str, str | None]:
    """The backend and weights that ran, where and in which precision, and, when the registry fell back
    to this model, which preferred backend failed and why (``fallback_from`` is None otherwise)."""
    return {
        "backend": model.backend.version_tag,
        "weights_sha256": model.backend.digest,
        "device": model.device,
        "precision": model.precision,
        "fallback_from": model.fallback_from,
        "fallback_reason": model.fallback_reason,
    }

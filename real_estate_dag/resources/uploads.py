"""Finding a property's upload folder from its partition key."""

from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.store import UPLOADS, Store

MANIFEST = "manifest.json"


class UploadNotFoundError(LookupError):
    pass


def upload_folder(store: Store, key: str) -> str:
    """The folder under ``uploads/`` whose sanitised name is ``key``."""
    if store.exists(f"{UPLOADS}/{key}/{MANIFEST}"):
        return key
    matches = [f for f in store.list_folders(UPLOADS) if property_key(f) == key]
    if not matches:
        raise UploadNotFoundError(f"no upload folder under {UPLOADS}/ maps to property key {key!r}")
    return matches[0]

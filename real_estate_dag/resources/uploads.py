"""Finding a property's upload folder from its partition key, and saying what an unlisted path is."""

from real_estate_dag.ops.inputs import shown
from real_estate_dag.ops.keys import property_key
from real_estate_dag.resources.store import UPLOADS, Store, UnsafeKeyError

MANIFEST = "manifest.json"
FOLDER_TAG = "redag/upload_folder"  # the upload folder a run was launched for


class UploadNotFoundError(LookupError):
    pass


def upload_folder(store: Store, key: str, tagged: str | None = None) -> str:
    """The folder under ``uploads/`` a run of partition ``key`` reads: the one its launch named in the
    ``redag/upload_folder`` tag, which must map to ``key``; without the tag, the only folder that maps
    to ``key``, never a guess between several."""
    folders = store.list_folders(UPLOADS)
    if tagged is not None:
        if property_key(tagged) != key:
            raise UploadNotFoundError(f"the run's {FOLDER_TAG} tag names {shown(UPLOADS + '/' + tagged)}, which "
                                      f"maps to property key {property_key(tagged)!r}, not to {key!r}")
        if tagged not in folders:
            raise UploadNotFoundError(f"the run's {FOLDER_TAG} tag names {shown(UPLOADS + '/' + tagged)}, "
                                      "which does not exist")
        return tagged
    matches = [f for f in folders if property_key(f) == key]
    if not matches:
        raise UploadNotFoundError(f"no upload folder under {UPLOADS}/ maps to property key {key!r}")
    if len(matches) > 1:
        raise UploadNotFoundError(
            f"upload folders {', '.join(repr(f) for f in matches)} all map to property key {key!r}; launch "
            f"the run with the tag {FOLDER_TAG}=<folder> (the upload sensor and the CLI do) or rename one")
    return matches[0]


def unlisted_kind(store: Store, key: str) -> str | None:
    """What ``key`` is when the store's listing (plain files only) lacks it: a link out of the store, a
    link, a folder; None when nothing is there."""
    try:
        if store.exists(key):
            return "is a link"
    except UnsafeKeyError:
        return "is a link pointing outside the store"
    parent, _, name = key.rpartition("/")
    try:
        if name in store.list_folders(parent):
            return "is a folder"
    except UnsafeKeyError:
        return "is inside a link pointing outside the store"
    return None

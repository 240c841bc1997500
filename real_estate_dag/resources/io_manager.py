"""Small structured asset values travel as JSON in the store, one file per asset and partition."""

import json
from typing import Any

from dagster import ConfigurableIOManager, Failure, InputContext, OutputContext, ResourceDependency

from real_estate_dag.ops.keys import check_partition_key
from real_estate_dag.resources.store import WORK, Store
from real_estate_dag.retries import transient_retries


def value_key(partition_key: str, asset: str) -> str:
    """Where the value of ``asset`` for one partition is kept."""
    return f"{WORK}/{check_partition_key(partition_key)}/values/{asset}.json"


class StoreJsonIOManager(ConfigurableIOManager):
    store: ResourceDependency[Store]

    def _key(self, context: InputContext | OutputContext) -> str:
        return value_key(context.asset_partition_key, "/".join(context.asset_key.path))

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        key = self._key(context)
        with transient_retries(context):
            self.store.write_bytes(key, json.dumps(obj, separators=(",", ":")).encode())
        context.add_output_metadata({"value_uri": self.store.url(key)})

    def load_input(self, context: InputContext) -> Any:
        key = self._key(context)
        with transient_retries(context):
            if not self.store.exists(key):
                asset = context.asset_key.to_user_string()
                raise Failure(description=f"{asset} has no stored value for {context.asset_partition_key}; "
                              "materialise it first (or together with the assets selected now)",
                              allow_retries=False)
            return json.loads(self.store.read_bytes(key))

"""A client for the showcase pipeline over Dagster's GraphQL API, usable as a library.

    from real_estate_dag.client import Endpoint, ShowcaseClient
    client = ShowcaseClient(Endpoint.from_settings("http://127.0.0.1:3000"))
    client.add_property("123-main-st")
    run_id = client.launch("123-main-st")
    client.run(run_id).status
"""

from real_estate_dag.client.endpoint import ClientError, Endpoint, WebserverUnreachableError
from real_estate_dag.client.showcase import Materialization, RunProgress, ShowcaseClient
from real_estate_dag.client.upload import Upload, configured_store, upload_property

__all__ = [
    "ClientError",
    "Endpoint",
    "Materialization",
    "RunProgress",
    "ShowcaseClient",
    "Upload",
    "WebserverUnreachableError",
    "configured_store",
    "upload_property",
]

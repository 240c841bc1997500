"""Jobs: the showcase job materialises every asset of one property partition."""

from dagster import AssetSelection, define_asset_job

from real_estate_dag.assets.common import GROUP

showcase_job = define_asset_job(
    "showcase_job",
    selection=AssetSelection.groups(GROUP),
    description="Analyse one property's footage and render its showcase video.",
)

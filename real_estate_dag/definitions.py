"""The one Definitions object of the real_estate_dag code location."""

from dagster import Definitions

from real_estate_dag.assets.analysis import video_analysis
from real_estate_dag.assets.clips import selected_clips
from real_estate_dag.assets.manifest import property_manifest
from real_estate_dag.assets.showcase import showcase_video
from real_estate_dag.executor import executor_from_env
from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.jobs import showcase_job
from real_estate_dag.resources.env import env_int_or, env_or, store_from_env
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.resources.webhooks import WebhookNotifier
from real_estate_dag.retention import retention_job, retention_schedule
from real_estate_dag.sensors.uploads import local_upload_sensor, s3_upload_sensor
from real_estate_dag.sensors.webhooks import showcase_failure_webhook, showcase_success_webhook

store = store_from_env()
models = ModelRegistry(
    device=env_or("REDAG_DEVICE", "auto"),
    clip_model=env_or("REDAG_CLIP_MODEL", "ViT-B-32"),
    clip_pretrained=env_or("REDAG_CLIP_PRETRAINED", ""),
    clip_weights=env_or("REDAG_CLIP_WEIGHTS", ""),
    iqa_metric=env_or("REDAG_IQA_METRIC", "piqe"),
    batch_size=env_int_or("REDAG_BATCH_SIZE", 32),
    models_dir=env_or("REDAG_MODELS_DIR", ""),
)

defs = Definitions(
    assets=[
        property_manifest,
        video_analysis,
        selected_clips,
        showcase_video,
    ],
    jobs=[showcase_job, retention_job],
    schedules=[retention_schedule],
    executor=executor_from_env(),
    sensors=[
        s3_upload_sensor if isinstance(store, S3Store) else local_upload_sensor,
        showcase_success_webhook,
        showcase_failure_webhook,
    ],
    resources={
        "store": store,
        "models": models,
        "io_manager": StoreJsonIOManager(store=store),
        "limits": UploadLimits(),
        "webhooks": WebhookNotifier(urls=env_or("REDAG_WEBHOOK_URLS", ""), secret=env_or("REDAG_WEBHOOK_SECRET", "")),
    },
)

"""The one Definitions object of the real_estate_dag code location.

Every setting is a resource field; ``SETTINGS`` says which variable sets which field (the README's
settings table lists the same). The environment is read here only to choose between whole
implementations: the store (REDAG_STORE) and the executor (REDAG_EXECUTOR).
"""

from dagster import AssetsDefinition, Definitions

from real_estate_dag.assets.analysis import video_analysis
from real_estate_dag.assets.clips import selected_clips
from real_estate_dag.assets.intro import agent_intro
from real_estate_dag.assets.manifest import property_manifest
from real_estate_dag.assets.moderation import moderation
from real_estate_dag.assets.music import music_beats
from real_estate_dag.assets.narration import narration
from real_estate_dag.assets.photos import photo_analysis
from real_estate_dag.assets.showcase import showcase_video
from real_estate_dag.assets.versions import with_model_versions
from real_estate_dag.executor import EXECUTOR_CHOICE, executor_from_env
from real_estate_dag.gpu_resources.registry import MODEL_SETTINGS, ModelRegistry
from real_estate_dag.jobs import showcase_job
from real_estate_dag.resources.env import LOCAL_STORE, S3_STORE, STORE_CHOICE, Settings, store_from_env
from real_estate_dag.resources.io_manager import StoreJsonIOManager
from real_estate_dag.resources.limits import UploadLimits
from real_estate_dag.resources.s3_store import S3Store
from real_estate_dag.resources.safety import INTRO, NARRATION, SAFETY
from real_estate_dag.resources.webhooks import WebhookNotifier
from real_estate_dag.retention import RetentionSettings, retention_job, retention_schedule
from real_estate_dag.sensors.uploads import local_upload_sensor, s3_upload_sensor
from real_estate_dag.sensors.webhooks import showcase_failure_webhook, showcase_success_webhook

LIMITS = Settings(UploadLimits, {
    "max_file_mib": "REDAG_MAX_FILE_MIB",
    "max_video_seconds": "REDAG_MAX_VIDEO_SECONDS",
    "min_video_seconds": "REDAG_MIN_VIDEO_SECONDS",
    "max_total_seconds": "REDAG_MAX_TOTAL_SECONDS",
    "max_pixels": "REDAG_MAX_PIXELS",
    "min_short_side": "REDAG_MIN_SHORT_SIDE",
    "max_fps": "REDAG_MAX_FPS",
    "max_audio_seconds": "REDAG_MAX_AUDIO_SECONDS",
    "max_photo_pixels": "REDAG_MAX_PHOTO_PIXELS",
    "upload_wait_s": "REDAG_UPLOAD_WAIT_S",
})
RETENTION = Settings(RetentionSettings, {
    "work_days": "REDAG_RETENTION_DAYS",
    "tmp_hours": "REDAG_RETENTION_TMP_HOURS",
    "results_days": "REDAG_RETENTION_RESULTS_DAYS",
})
WEBHOOKS = Settings(WebhookNotifier, {"urls": "REDAG_WEBHOOK_URLS", "secret": "REDAG_WEBHOOK_SECRET"})
SETTINGS = (LOCAL_STORE, S3_STORE, MODEL_SETTINGS, LIMITS, RETENTION, WEBHOOKS, NARRATION, SAFETY, INTRO)
CHOICES = {STORE_CHOICE: "local", EXECUTOR_CHOICE: ""}  # variables that pick a whole implementation, defaults

store = store_from_env()
models: ModelRegistry = MODEL_SETTINGS.from_env()


def location_assets(registry: ModelRegistry) -> list[AssetsDefinition]:
    """The assets, with the model backends ``registry`` resolves in the analysis assets' code versions."""
    versions = registry.process_config_and_initialize().code_versions()
    assets = [property_manifest, video_analysis, photo_analysis, music_beats, narration, moderation, agent_intro,
              selected_clips, showcase_video]
    return with_model_versions(assets, versions)


defs = Definitions(
    assets=location_assets(models),
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
        "limits": LIMITS.from_env(),
        "retention": RETENTION.from_env(),
        "webhooks": WEBHOOKS.from_env(),
    },
)

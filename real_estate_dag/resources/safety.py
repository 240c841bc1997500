"""Settings of narration, moderation, privacy and the agent intro (each field set by a variable).

The assets that read them carry them as their own resources (``resource_defs``), made here from the
environment once, so a run needs no more resources than before; definitions.py lists them in SETTINGS.
"""

from dagster import ConfigurableResource
from pydantic import Field

from real_estate_dag.ops.moderation import EXPLICIT, FACES, parse_classes
from real_estate_dag.resources.env import Settings


class NarrationSettings(ConfigurableResource):
    language: str = Field(default="", description="language of the narration for multilingual models; empty: "
                          "detected (English-only models always use English)")
    burn_in_captions: int = Field(default=0, description="1: the captions are also burned into the published videos")
    duck_ratio: int = Field(default=8, description="sidechain compression ratio of the music under the narration")


class SafetySettings(ConfigurableResource):
    blocked_classes: str = Field(default=",".join(EXPLICIT), description="NudeNet classes that block publication")
    block_score_pct: int = Field(default=60, description="a blocked class counts from this score (percent)")
    blur_classes: str = Field(default=",".join(FACES), description="classes blurred in the published videos; "
                              "none: blur nothing")
    blur_score_pct: int = Field(default=30, description="a box is blurred from this score (percent)")

    def blocked(self) -> tuple[str, ...]:
        return parse_classes(self.blocked_classes)

    def blurred(self) -> tuple[str, ...]:
        return parse_classes(self.blur_classes)


class IntroSettings(ConfigurableResource):
    did_api_key: str = Field(default="", description="D-ID API key; empty: no talking-head clip (the intro card only)")
    did_url: str = Field(default="https://api.d-id.com", description="D-ID API base URL")
    did_deadline_s: int = Field(default=300, description="how long a D-ID talk may take to render")
    intro_s: int = Field(default=3, description="seconds the intro card is shown")


NARRATION = Settings(NarrationSettings, {
    "language": "REDAG_SPEECH_LANGUAGE",
    "burn_in_captions": "REDAG_BURN_IN_CAPTIONS",
    "duck_ratio": "REDAG_DUCK_RATIO",
})
SAFETY = Settings(SafetySettings, {
    "blocked_classes": "REDAG_MODERATION_BLOCKED",
    "block_score_pct": "REDAG_MODERATION_SCORE_PCT",
    "blur_classes": "REDAG_BLUR_CLASSES",
    "blur_score_pct": "REDAG_BLUR_SCORE_PCT",
})
INTRO = Settings(IntroSettings, {
    "did_api_key": "DID_API_KEY",
    "did_url": "REDAG_DID_URL",
    "did_deadline_s": "REDAG_DID_DEADLINE_S",
    "intro_s": "REDAG_INTRO_S",
})

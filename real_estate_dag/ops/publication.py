"""What the showcase step renders from one edit: the showcase per aspect, its unbranded (MLS) twin,
the teaser, and the chapter and caption files, each render as a list of cards and clips.

The branded and unbranded renders share the title card and every clip (their overlays are the same
unless the corner logo is on), so the unbranded one encodes its closing card and the crossfade
into it only; the teaser reuses the showcase's clip bodies.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from real_estate_dag.ops.captions import Chapter, chapters, room_spans, room_title, srt, webvtt
from real_estate_dag.ops.cards import (
    LOGO,
    NEUTRAL,
    CardContent,
    agent_leaks,
    closing_content,
    draw_black,
    draw_closing_card,
    draw_overlay,
    overlay_content,
)
from real_estate_dag.ops.manifest import ASPECTS, Manifest
from real_estate_dag.ops.render import ASPECT_SIZES, FPS, Card, RenderClip
from real_estate_dag.ops.teaser import teaser_clips, teaser_length
from real_estate_dag.ops.titlecard import draw_title_card, listing_lines
from real_estate_dag.ops.visuals import poster_frame

TEASER_ASPECTS = ("16:9", "9:16")  # each where the showcase is rendered in it, whose clip bodies it reuses
HERO = "hero frame"


def file_name(variant: str, aspect: str) -> str:
    """showcase.mp4, showcase_9x16.mp4, showcase_unbranded.mp4, teaser_9x16.mp4, ..."""
    stem = {"branded": "showcase", "unbranded": "showcase_unbranded", "teaser": "teaser"}[variant]
    return f"{stem}.mp4" if aspect == "16:9" else f"{stem}_{aspect.replace(':', 'x')}.mp4"


@dataclass(frozen=True)
class Job:
    name: str
    variant: str  # branded, unbranded or teaser
    aspect: str
    edit: list[Card | RenderClip]
    contents: list[CardContent] = field(default_factory=list)  # what its cards and overlays show

    @property
    def size(self) -> tuple[int, int]:
        return ASPECT_SIZES[self.aspect]

    @property
    def title(self) -> str:
        return {"branded": "showcase", "unbranded": "unbranded showcase", "teaser": "teaser"}[self.variant]


@dataclass
class Publication:
    manifest: Manifest
    edl: list[dict[str, Any]]  # selected_clips' clips, with their showcase times
    clips: Callable[[str], list[RenderClip]]  # the same clips, ready to render at an aspect
    title_s: float
    closing_s: float
    crossfade_s: float
    brand_files: dict[str, Path]  # agent_portrait and logo, where the brand gives them
    # the agent intro (card or talking-head clip) first in the branded renders; the others hold their
    # title card as much longer, so every showcase keeps one time line
    intro: dict[str, Card | RenderClip] = field(default_factory=dict)  # per aspect, all as long
    unbranded_mute: list[tuple[tuple[float, float], ...]] = field(default_factory=list)  # per clip: narration
    # that names the agent or brokerage, dropped from the unbranded renders
    hero_photo: Path | None = None  # photo_analysis' hero, the title card's backdrop when there is one

    @property
    def intro_s(self) -> float:
        """How much later the title card ends than it would without the intro (its length less a fade)."""
        return next(iter(self.intro.values())).duration_s - self.crossfade_s if self.intro else 0.0

    @property
    def lead_s(self) -> float:
        """The teaser's black lead-in and ending: half black, half crossfade."""
        return 2 * round(self.crossfade_s * FPS) / FPS

    def teaser_edl(self) -> list[dict[str, Any]]:
        return teaser_clips(self.edl, self.lead_s, self.crossfade_s)

    @property
    def teaser_s(self) -> float:
        return round(teaser_length([c["duration_s"] for c in self.teaser_edl()], self.lead_s, self.crossfade_s), 3)

    def hero(self) -> Image.Image:
        """The hero photo, else the middle frame of the highest-scoring clip."""
        if self.hero_photo is not None:
            with Image.open(self.hero_photo) as photo:
                return photo.convert("RGB")
        best = max(range(len(self.edl)), key=lambda i: (self.edl[i]["score"], -i))
        clip = self.clips(ASPECTS[0])[best]
        return poster_frame(clip.path, clip.in_s + clip.duration_s / 2)

    def caption(self, entry: dict[str, Any], branded: bool) -> str:
        """A clip's lower third: its photo's caption from the manifest (not in an unbranded render when it
        names the agent or brokerage), else its room with ``room_captions``."""
        room = room_title(entry["room"]) if self.manifest.options.room_captions else ""
        caption = entry.get("caption", "")
        if not caption or (not branded and agent_leaks([overlay_content(caption, logo=False)], self.manifest.brand)):
            return room
        return caption

    def _overlaid(self, folder: Path, aspect: str, logo: bool, branded: bool
                  ) -> tuple[list[RenderClip], list[CardContent]]:
        tag = aspect.replace(":", "x")
        clips, contents = [], []
        for i, (entry, clip) in enumerate(zip(self.edl, self.clips(aspect), strict=True)):
            content = overlay_content(self.caption(entry, branded), logo)
            overlay = None
            if content.texts or content.pictures:
                name = f"overlay_{tag}_{i}{'_logo' if logo else ''}{'' if branded else '_unbranded'}.png"
                overlay = draw_overlay(content, ASPECT_SIZES[aspect], folder / name, self.brand_files)
                contents.append(replace(content, name=f"overlay of clip {i}"))
            clips.append(replace(clip, overlay=overlay))
        return clips, contents

    def jobs(self, folder: Path) -> Iterator[Job]:
        manifest = self.manifest
        listing, brand, options = manifest.listing, manifest.brand, manifest.options
        headline, lines = listing_lines(listing, manifest.property_id)
        title_content = CardContent("title", (headline, *lines), (HERO,))
        hero = self.hero()
        variants = ["branded", *(["unbranded"] if options.unbranded else [])]
        for aspect in options.aspects:
            tag = aspect.replace(":", "x")
            size = ASPECT_SIZES[aspect]
            title = Card(draw_title_card(listing, manifest.property_id, size, folder / f"title_{tag}.png", hero),
                         self.title_s)
            for variant in variants:
                branded = variant == "branded"
                clips, contents = self._overlaid(folder, aspect, branded and options.corner_logo and
                                                 LOGO in self.brand_files, branded)
                if not branded and self.unbranded_mute:
                    clips = [replace(c, mute=m) for c, m in zip(clips, self.unbranded_mute, strict=True)]
                lead: list[Card | RenderClip] = [title]
                if aspect in self.intro:
                    lead = [self.intro[aspect], title] if branded else [replace(title, duration_s=title.duration_s +
                                                                                 self.intro_s)]
                edit: list[Card | RenderClip] = [*lead, *clips]
                cards = [title_content]
                if self.closing_s > 0:
                    content = closing_content(listing, brand, manifest.property_id, branded)
                    png = draw_closing_card(content, size, folder / f"closing_{variant}_{tag}.png",
                                            brand.colors if branded else NEUTRAL, self.brand_files)
                    edit.append(Card(png, self.closing_s))
                    cards.append(content)
                yield Job(file_name(variant, aspect), variant, aspect, edit, cards + contents)
        if options.teaser:
            chosen = {c["order"] for c in self.teaser_edl()}
            for aspect in (a for a in TEASER_ASPECTS if a in options.aspects):
                black = Card(draw_black(ASPECT_SIZES[aspect], folder / f"black_{aspect.replace(':', 'x')}.png"),
                             self.lead_s)
                clips, contents = self._overlaid(folder, aspect, logo=False, branded=False)
                picked = [c for entry, c in zip(self.edl, clips, strict=True) if entry["order"] in chosen]
                yield Job(file_name("teaser", aspect), "teaser", aspect, [black, *picked, black], contents)

    def chapters(self, total_s: float) -> list[Chapter]:
        return chapters(self.edl, total_s)

    def caption_files(self, folder: Path, total_s: float) -> dict[str, Path]:
        """chapters.vtt (title, rooms, closing) and rooms.srt (one caption per room) of the showcase."""
        (folder / "chapters.vtt").write_text(webvtt(self.chapters(total_s)), encoding="utf-8")
        (folder / "rooms.srt").write_text(srt(room_spans(self.edl)), encoding="utf-8")
        return {"chapters.vtt": folder / "chapters.vtt", "rooms.srt": folder / "rooms.srt"}

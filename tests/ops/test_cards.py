"""Cards and captions: hostile text laid out to fit, the unbranded check, chapters and room captions."""

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from real_estate_dag.ops.captions import chapters, room_spans, srt, webvtt, youtube_chapters
from real_estate_dag.ops.cards import (
    NEUTRAL,
    agent_leaks,
    closing_content,
    draw_closing_card,
    draw_overlay,
    overlay_content,
    qr_image,
)
from real_estate_dag.ops.manifest import Brand, Listing, ManifestError, parse_manifest
from real_estate_dag.ops.publication import Publication
from real_estate_dag.ops.render import RenderClip
from real_estate_dag.ops.text_layout import _covered, fit_block, font_for
from real_estate_dag.ops.titlecard import draw_title_card

HOSTILE = [
    "1234 Extraordinarily Long Boulevard Name Northeast, Apartment 5678, Building C, Springfield Gardens "
    "Township, Massachusetts 01234-5678, United States of America",
    "https://example.com/" + "a" * 180,  # one long word
    "شارع الملك فهد ١٢، الرياض",  # Arabic, right to left, joined letters
    "רחוב הרצל 12, תל אביב",  # Hebrew
    "東京都渋谷区神宮前一丁目二十三番地四号メゾン表参道ヒルズ",  # Japanese, no spaces to wrap at
    "\u202eRTL override\u202c 🏠🔑 Z̸̢a̷l̶g̴o̵ road \u200b\u200d",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_fits_its_box_with_real_glyphs(text: str) -> None:
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    block = fit_block(draw, text, 800, 90, max_lines=2)
    assert 1 <= len(block.lines) <= 2
    assert all(draw.textlength(line, font=block.font) <= 800 for line in block.lines)
    path = font_for(text)
    covered = _covered(path)
    assert all(ord(c) in covered for line in block.lines for c in line if not c.isspace())
    drawn = "".join(block.lines)
    letters = [c for c in text if c.isalpha() and ord(c) in covered]
    assert sum(c in drawn for c in letters) >= 0.3 * len(letters)  # shrunk or cut, not dropped


def test_scripts_are_drawn_with_fonts_that_have_their_glyphs() -> None:
    assert font_for(HOSTILE[2]).name == "DejaVuSans.ttf"  # Arabic
    assert font_for(HOSTILE[4]).name != "DejaVuSans.ttf"  # CJK from the fallback font
    assert all(ord(c) in _covered(font_for(HOSTILE[4])) for c in HOSTILE[4])


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920)])
def test_cards_with_hostile_text_keep_text_inside_the_frame(size: tuple[int, int], tmp_path: Path) -> None:
    listing = Listing(address=HOSTILE[0], price=1_250_000, bedrooms=4, property_type=HOSTILE[4])
    title = np.asarray(Image.open(draw_title_card(listing, "p", size, tmp_path / "t.png")).convert("L"))
    margin = size[0] // 25
    assert (title[:, margin:-margin] > 200).mean() > 0.003  # white text drawn
    assert (title[:, :margin] > 200).sum() == 0 and (title[:, -margin:] > 200).sum() == 0
    brand = Brand(agent_name=HOSTILE[2], agent_phone="+1 555 0100", agent_email="a@b.co", brokerage=HOSTILE[3],
                  listing_url="https://example.com/x")
    content = closing_content(listing, brand, "p", branded=True)
    card = np.asarray(Image.open(draw_closing_card(content, size, tmp_path / "c.png", brand.colors, {})).convert("L"))
    assert (card > 200).mean() > 0.003
    assert (card[:, : size[0] // 12] > 200).sum() == 0  # nothing spills over the left edge


def test_the_unbranded_cards_carry_no_agent_field_and_the_check_catches_one() -> None:
    brand = Brand(agent_name="Jane Realtor", agent_phone="555 0100", agent_email="jane@example.com",
                  agent_licence="DRE 0123", agent_portrait="agent.jpg", brokerage="Acme Homes", logo="logo.png",
                  listing_url="https://example.com/7")
    listing = Listing(address="7 Maple Ave", price=420000)
    unbranded = [closing_content(listing, brand, "p", branded=False), overlay_content("Kitchen", logo=False)]
    assert agent_leaks(unbranded, brand) == []
    branded = closing_content(listing, brand, "p", branded=True)
    leaks = agent_leaks([branded, overlay_content("Kitchen", logo=True)], brand)
    assert {"closing card shows 'Jane Realtor'", "closing card shows 'https://example.com/7'",
            "closing card shows the agent_portrait", "closing card shows the qr code",
            "overlay card shows the logo"} <= set(leaks)
    # an address that names the brokerage is caught too: the check errs on the safe side
    assert agent_leaks([closing_content(Listing(address="1 Acme Homes Rd"), brand, "p", False)], brand)
    assert NEUTRAL.primary != "#000000"


def test_qr_code_and_overlay(tmp_path: Path) -> None:
    qr = np.asarray(qr_image("https://example.com/listing/7", 200).convert("L"))
    assert qr.shape == (200, 200) and 0.2 < (qr < 128).mean() < 0.7
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (100, 40), (255, 0, 0, 255)).save(logo)
    overlay = Image.open(draw_overlay(overlay_content("Primary bedroom", logo=True), (640, 360), tmp_path / "o.png",
                                      {"logo": logo}))
    alpha = np.asarray(overlay)[..., 3]
    assert alpha[-60:, :320].max() > 0 and alpha[:60, -120:].max() > 0  # caption low left, logo top right
    assert alpha[100:250, 100:500].max() == 0  # the middle of the picture is untouched


EDL = [{"order": 0, "room": "exterior", "showcase_in_s": 2.5, "showcase_out_s": 6.5},
       {"order": 1, "room": "living_room", "showcase_in_s": 6.0, "showcase_out_s": 10.0},
       {"order": 2, "room": "living_room", "showcase_in_s": 9.5, "showcase_out_s": 13.0},
       {"order": 3, "room": "kitchen", "showcase_in_s": 12.5, "showcase_out_s": 16.5}]
CUE = re.compile(r"(\d+)\n(\d\d):(\d\d):(\d\d)[.,](\d{3}) --> (\d\d):(\d\d):(\d\d)[.,](\d{3})\n(.+)\n")


def parse_cues(text: str) -> list[tuple[float, float, str]]:
    def seconds(h: str, m: str, s: str, ms: str) -> float:
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000

    return [(seconds(*m.groups()[1:5]), seconds(*m.groups()[5:9]), m.group(10)) for m in CUE.finditer(text)]


def test_chapters_and_room_captions_follow_the_edit() -> None:
    entries = chapters(EDL, 19.0)
    vtt = webvtt(entries)
    assert vtt.startswith("WEBVTT\n\n")
    cues = parse_cues(vtt)
    assert [c[2] for c in cues] == ["Intro", "Exterior", "Living room", "Kitchen", "Contact"]
    assert cues[0][0] == 0.0 and cues[-1][1] == 19.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cues))  # they tile the showcase
    rooms = parse_cues(srt(room_spans(EDL)))
    assert rooms == [(2.5, 6.5, "Exterior"), (6.0, 13.0, "Living room"), (12.5, 16.5, "Kitchen")]
    assert youtube_chapters(entries).splitlines() == ["0:00 Intro", "0:02 Exterior", "0:06 Living room",
                                                      "0:12 Kitchen", "0:16 Contact"]


def test_the_brand_block_and_the_older_agent_fields() -> None:
    raw = (b'{"property_id": "p", "videos": ["a.mp4"], "listing": {"agent": {"name": "Jane", "phone": "555"}},'
           b' "brand": {"agent_email": "jane@example.com", "logo": "logo.png", "colors": {"primary": "#112233"}}}')
    brand = parse_manifest(raw).brand
    assert (brand.agent_name, brand.agent_phone, brand.agent_email, brand.logo) == ("Jane", "555", "jane@example.com",
                                                                                    "logo.png")
    for field, value, reason in (("colors", {"primary": "navy"}, "must be a colour written #rrggbb"),
                                 ("listing_url", "javascript:alert(1)", "must be an http:// or https:// address"),
                                 ("agent_portrait", "../agent.jpg", "must be a plain path inside the upload folder"),
                                 ("logo", "logo.gif", "must end with one of .png")):
        body = f'{{"property_id": "p", "videos": ["a.mp4"], "brand": {{"{field}": {json.dumps(value)}}}}}'
        with pytest.raises(ManifestError, match=re.escape(reason)) as exc:
            parse_manifest(body.encode())
        assert exc.value.field.startswith(f"brand.{field}")


def test_photo_captions_are_lower_thirds_and_stay_out_of_the_unbranded_render(tmp_path: Path) -> None:
    photo = tmp_path / "kitchen.jpg"
    Image.new("RGB", (400, 300), (120, 130, 140)).save(photo)
    manifest = parse_manifest(json.dumps({
        "property_id": "p", "photos": [{"file": "kitchen.jpg", "caption": "Renovated in 2024"},
                                       {"file": "bed.jpg", "caption": "Ask Jane Realtor about it"}],
        "brand": {"agent_name": "Jane Realtor"},
        "options": {"unbranded": True, "teaser": False, "room_captions": True}}).encode())
    edl = [{"order": 0, "room": "kitchen", "caption": "Renovated in 2024", "score": 0.5},
           {"order": 1, "room": "bedroom", "caption": "Ask Jane Realtor about it", "score": 0.5}]
    photos = [RenderClip(photo, 0.0, 3.0, False, 16 / 9, kind="photo", room=e["room"]) for e in edl]
    plan = Publication(manifest, edl, lambda aspect: photos, 2.0, 0.0, 0.5, {}, hero_photo=photo)
    jobs = {job.name: job for job in plan.jobs(tmp_path)}
    shown = {name: [c.texts for c in job.contents if c.name.startswith("overlay")] for name, job in jobs.items()}
    assert shown["showcase.mp4"] == [("Renovated in 2024",), ("Ask Jane Realtor about it",)]
    assert shown["showcase_unbranded.mp4"] == [("Renovated in 2024",), ("Bedroom",)]
    assert agent_leaks(jobs["showcase_unbranded.mp4"].contents, manifest.brand) == []
    overlay = jobs["showcase.mp4"].edit[1].overlay
    alpha = np.asarray(Image.open(overlay).convert("RGBA"))[..., 3]
    height = alpha.shape[0]
    assert alpha[: height // 2].max() == 0 and (alpha[height // 2 :] > 0).mean() > 0.005  # drawn low in the frame

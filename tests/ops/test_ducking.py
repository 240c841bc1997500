"""The narrated clip's voice is kept over the music, the music ducks under it (sidechain compression),
a muted sentence (the unbranded version's) is silent and does not duck the music; captions burn in."""

from pathlib import Path

import numpy as np
from PIL import Image

from real_estate_dag.gpu_resources.registry import ModelRegistry
from real_estate_dag.ops.audio import decode_mono
from real_estate_dag.ops.render import Card, RenderClip, burn_in_captions, render_edit
from real_estate_dag.ops.speech import Cue, load_audio, to_srt
from real_estate_dag.ops.visuals import poster_frame

RATE = 16000
TITLE_S, FADE_S = 3.0, 0.5


def tone_db(samples: np.ndarray, hz: float = 440.0) -> float:
    """Level of the music's 440 Hz line: its FFT bin (2 Hz wide, so the voice adds little to it)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(20 * np.log10(spectrum[round(hz * len(samples) / RATE)] + 1e-9))


def voice_db(samples: np.ndarray) -> float:
    """Level of the 1-4 kHz band, where the voice is and the music is not."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    return float(10 * np.log10(spectrum[(freqs > 1000) & (freqs < 4000)].sum() + 1e-12))


def test_the_music_ducks_under_the_kept_voice_and_a_muted_sentence_is_dropped(
        narrated_clip: Path, music_track: Path, tmp_path: Path) -> None:
    spans = ModelRegistry().vad_model().speech_spans(load_audio(narrated_clip))
    kitchen, roof = spans[1], spans[2]  # "The kitchen has ..." and "The house has a new roof."
    title = tmp_path / "title.png"
    Image.new("RGB", (320, 180), (20, 30, 50)).save(title)
    clip = RenderClip(narrated_clip, 0.0, 8.5, True, 16 / 9, voice=True, mute=((roof[0] - 0.1, roof[1] + 0.1),))
    out = render_edit([Card(title, TITLE_S), clip], tmp_path / "ducked.mp4", (320, 180), crossfade_s=FADE_S,
                      music=music_track)
    at = TITLE_S - FADE_S  # where the clip starts on the time line

    def span(start: float, end: float) -> np.ndarray:
        return decode_mono(out.path, start, end - start)

    music_alone = span(1.6, 2.4)  # on the title card, after the music's fade-in
    speech = span(at + kitchen[0] + 0.1, at + kitchen[0] + 0.9)
    muted = span(at + roof[0] + 0.1, at + roof[0] + 0.9)
    print(f"\n440 Hz: alone {tone_db(music_alone):.1f} dB, under speech {tone_db(speech):.1f} dB, "
          f"muted sentence {tone_db(muted):.1f} dB; voice band: speech {voice_db(speech):.1f} dB, "
          f"muted {voice_db(muted):.1f} dB")
    assert tone_db(music_alone) - tone_db(speech) >= 6.0  # ducked
    assert abs(tone_db(music_alone) - tone_db(muted)) <= 3.0  # a muted sentence does not duck
    assert voice_db(speech) - voice_db(muted) >= 20.0  # the voice is heard, the muted sentence is not
    assert voice_db(speech) - voice_db(music_alone) >= 20.0


def test_captions_burn_into_the_picture_where_their_cue_is(tmp_path: Path) -> None:
    card = tmp_path / "card.png"
    Image.new("RGB", (320, 180), (20, 30, 50)).save(card)
    plain = render_edit([Card(card, 2.0), Card(card, 2.0)], tmp_path / "plain.mp4", (320, 180), crossfade_s=FADE_S)
    before = {t: np.asarray(poster_frame(plain.path, t)).astype(int) for t in (0.6, 3.0)}
    captions = tmp_path / "narration.srt"
    captions.write_text(to_srt([Cue(0.5, 1.5, "The kitchen has granite countertops.")]))
    burned = burn_in_captions(plain, captions)
    assert burned.path == plain.path and burned.audio_codec == "aac"
    changed = {t: np.abs(np.asarray(poster_frame(burned.path, t)).astype(int) - before[t]).max(axis=2) > 60
               for t in before}
    assert changed[0.6][120:].sum() > 200 and changed[0.6][:90].sum() == 0  # text in the lower part only
    assert changed[3.0].sum() == 0  # after the cue the picture is as rendered

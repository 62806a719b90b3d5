"""Prompt audio: every prompt the config names, in every language it lists.

A prompt's source is ``recordings/prompts/<lang>/<name>.wav`` (a studio recording) or
``<name>.txt`` (spoken by espeak-ng), or a text in the config itself (a legal aid centre's
address and hours: ``texts``, by language and name, in the languages of its organisation).
All are converted with pydub into Asterisk's native 8 kHz, 16-bit mono WAV under
``recordings/build/<lang>/<name>.wav``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from hotline.calls.audio import AudioSegment
from hotline.progress import Say, Steps

#: Prompts the service itself says, whatever the menus are.
SERVICE_PROMPTS = frozenset(
    {"unknown-number", "technical-error", "please-hold", "sorry", "call-recorded"}
)

#: Prompts spoken from a text the service knows: numbers for positions and minutes.
GENERATED = {f"number-{i}": str(i) for i in range(31)}

#: espeak-ng voice per language code.
VOICES = {"en": "en-gb", "uk": "uk", "ka": "ka", "ru": "ru"}


class PromptError(Exception):
    """A prompt could not be built."""


def source_of(sources: Path, language: str, name: str) -> Path | None:
    """The recording or text a prompt is built from, if it exists."""
    for suffix in (".wav", ".txt"):
        path = sources / language / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def available(sources: Path, languages: Iterable[str]) -> set[str]:
    """Names of the prompts that have a source in any of ``languages``."""
    return {
        path.stem
        for lang in languages
        for path in (sources / lang).glob("*")
        if path.suffix in (".wav", ".txt")
    }


Texts = Mapping[tuple[str, str], str]


def missing(
    sources: Path, languages: Iterable[str], names: Iterable[str], texts: Texts | None = None
) -> list[str]:
    """``lang/name`` of every prompt with neither a recording nor a text."""
    texted = {name for _, name in texts or {}}
    return sorted(
        f"{lang}/{name}"
        for lang in languages
        for name in names
        if name not in GENERATED
        and name not in texted  # (the config checks its own texts)
        and source_of(sources, lang, name) is None
    )


def _speak(text: str, language: str) -> AudioSegment:
    if shutil.which("espeak-ng") is None:
        raise PromptError("espeak-ng is not installed (apt-get install espeak-ng)")
    voice = VOICES.get(language, language)
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0 or not done.stdout:
        raise PromptError(f"espeak-ng failed for voice {voice!r}: {done.stderr.decode()[-200:]}")
    return AudioSegment.from_file(io.BytesIO(done.stdout), format="wav")


def build(
    sources: Path,
    target: Path,
    languages: Iterable[str],
    names: Iterable[str],
    progress: Say = lambda _: None,
    texts: Texts | None = None,
    steps: Steps | None = None,
) -> int:
    """Build every prompt whose audio is missing or older than its source (or whose text in
    the config changed); return how many. Each prompt built is said as a line through
    ``progress``, or, given ``steps``, every prompt looked at is a step (up to date or built)."""
    texts = texts or {}
    texted = {name for _, name in texts}
    built = 0
    wanted = [(lang, name) for lang in languages for name in sorted(set(names) | texted)]
    for done, (lang, name) in enumerate(wanted, 1):
        seconds = _build_one(sources, target, lang, name, texts, texted)
        if seconds is not None:
            built += 1
            if steps is None:
                progress(f"prompt [{done}/{len(wanted)}] {lang}/{name}: {seconds:.1f} s")
        if steps is not None:
            steps(done, len(wanted), f"{lang}/{name}")
    return built


def _build_one(
    sources: Path, target: Path, lang: str, name: str, texts: Texts, texted: set[str]
) -> float | None:
    """Build one prompt if it is missing or out of date: its length in seconds, or None (up
    to date, or not a prompt of this language)."""
    source = source_of(sources, lang, name)
    out = target / lang / f"{name}.wav"
    if source is None and name in texted:
        if (lang, name) not in texts:
            return None  # not a language of the organisation it belongs to
        said = out.with_suffix(".said")  # the text it was built from
        text = texts[lang, name].strip()
        if out.exists() and said.exists() and said.read_text(encoding="utf-8") == text:
            return None
        audio = _speak(text, lang)
        out.parent.mkdir(parents=True, exist_ok=True)
        said.write_text(text, encoding="utf-8")
    elif source is None:
        if name not in GENERATED:
            raise PromptError(f"no recording or text for prompt {lang}/{name} in {sources}")
        if out.exists():
            return None
        audio = _speak(GENERATED[name], lang)
    elif out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
        return None
    elif source.suffix == ".txt":
        audio = _speak(source.read_text(encoding="utf-8").strip(), lang)
    else:
        with source.open("rb") as recording:  # (pydub leaves a file it opens itself open)
            audio = AudioSegment.from_wav(recording)
    out.parent.mkdir(parents=True, exist_ok=True)
    audio = audio.set_channels(1).set_frame_rate(8000).set_sample_width(2)
    audio.export(out, format="wav").close()  # pydub returns the file open
    return len(audio) / 1000

"""pydub, imported once and quietly: it warns at import when ffmpeg is absent (WAV needs
none) and about the standard library's audioop, which it uses."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Couldn't find ffmpeg", RuntimeWarning)
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    from pydub import AudioSegment, effects
    from pydub.utils import which

__all__ = ["AudioSegment", "effects", "which"]

"""The captcha read aloud: a WAV spoken by espeak-ng in the page's language, or by flite.

Contract
--------
* Each character of the challenge is spoken by one unambiguous name (``SPOKEN``): a digit as its
  number word ("üç", "three"), a letter as its name followed by a word that starts with it, as
  people spell on the telephone ("de, Denizli"; "D, delta"), with a pause between characters and
  espeak-ng's rate lowered to ``RATE_WPM``.
* espeak-ng speaks Turkish for a Turkish page (``-v tr``) and English for an English one
  (``-v en``). Without espeak-ng (or if it fails), flite speaks the English names (it has no
  Turkish voice); without either, ``synthesize`` returns ``None`` and no audio link is offered
  (``CAPTCHA_FLITE_PATH`` in nesportal/settings.py).
* The spoken text reaches the program on its standard input, never in its arguments (which any
  local user can read in the process list); the program runs without a shell, with a timeout,
  and what it was given is never logged: a failure logs the program and its exit status only.
* Nothing is cached or written where another request could find it: every request synthesises
  its own audio (flite, which cannot write to a pipe, writes into a private temporary directory
  that is removed at once).
"""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from django.conf import settings

logger = logging.getLogger(__name__)

RATE_WPM = 110  # espeak-ng's words per minute (its default is 175)
PAUSE_MS = 900  # silence between two characters
TIMEOUT_SECONDS = 10.0  # 5 characters take about 0.3 s to synthesise

# Turkish: letter names as the alphabet is recited ("a", "be", "ce"…) and a city from the
# telephone spelling alphabet; English: the letter and the ICAO/NATO word.
SPOKEN: Mapping[str, Mapping[str, str]] = {
    "tr": {
        "3": "üç",
        "4": "dört",
        "6": "altı",
        "7": "yedi",
        "9": "dokuz",
        "A": "a, Adana",
        "C": "ce, Ceyhan",
        "D": "de, Denizli",
        "E": "e, Edirne",
        "F": "fe, Fatsa",
        "H": "he, Hatay",
        "K": "ke, Kars",
        "M": "me, Muş",
        "N": "ne, Niğde",
        "P": "pe, Polatlı",
        "R": "re, Rize",
        "T": "te, Tokat",
        "U": "u, Uşak",
        "Y": "ye, Yozgat",
    },
    "en": {
        "3": "three",
        "4": "four",
        "6": "six",
        "7": "seven",
        "9": "nine",
        "A": "A, alpha",
        "C": "C, charlie",
        "D": "D, delta",
        "E": "E, echo",
        "F": "F, foxtrot",
        "H": "H, hotel",
        "K": "K, kilo",
        "M": "M, mike",
        "N": "N, november",
        "P": "P, papa",
        "R": "R, romeo",
        "T": "T, tango",
        "U": "U, uniform",
        "Y": "Y, yankee",
    },
}

# espeak-ng's voice per language of the site (settings.LANGUAGES).
ESPEAK_VOICES: Mapping[str, str] = {"tr": "tr", "en": "en"}


def voice_language(language: str | None) -> str:
    """The language the audio is spoken in: the page's if we have a voice for it, else the
    site's default ("tr-tr" → "tr", "en-us" → "en", "de" → "tr")."""
    code = (language or "").split("-")[0].lower()
    return code if code in SPOKEN else settings.LANGUAGE_CODE.split("-")[0]


def spoken_names(challenge: str, language: str) -> list[str]:
    """What is said for each character. A character outside the alphabet (a captcha made before
    ``accounts.captcha_challenge`` was configured) is said as itself."""
    names = SPOKEN[language]
    return [names.get(char, char) for char in challenge.upper()]


def speech_markup(challenge: str, language: str) -> str:
    """The SSML espeak-ng reads (``-m``): the names, separated by a pause."""
    pause = f'<break time="{PAUSE_MS}ms"/>'
    return "<speak>" + pause.join(escape(n) for n in spoken_names(challenge, language)) + "</speak>"


def espeak_command(path: str, language: str) -> list[str]:
    """espeak-ng's command line: voice, rate, SSML from standard input, WAV to standard output."""
    return [path, "-v", ESPEAK_VOICES[language], "-s", str(RATE_WPM), "-m", "--stdin", "--stdout"]


def flite_command(path: str, output: str) -> list[str]:
    """flite's command line: text from standard input (no ``-t``), slowed down, into ``output``."""
    return [path, "--setf", "duration_stretch=1.6", "-o", output]


def fix_wav_sizes(data: bytes) -> bytes | None:
    """``data`` with correct RIFF and data chunk sizes, or ``None`` if it is not a PCM WAV.

    espeak-ng writing to a pipe cannot seek back, so its header carries placeholder sizes
    (0x7ffff000…), which some players take literally.
    """
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    fixed = bytearray(data)
    offset = 12
    while offset + 8 <= len(fixed):
        chunk_id = bytes(fixed[offset : offset + 4])
        (size,) = struct.unpack_from("<I", fixed, offset + 4)
        if chunk_id == b"data":
            struct.pack_into("<I", fixed, offset + 4, len(fixed) - offset - 8)
            struct.pack_into("<I", fixed, 4, len(fixed) - 8)
            return bytes(fixed)
        offset += 8 + size + (size & 1)
    return None


def _run(command: Sequence[str], text: str) -> bytes | None:
    """Standard output of ``command`` fed ``text``; ``None`` (and one log line without the
    text) if it fails or takes too long."""
    program = os.path.basename(command[0])
    try:
        result = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            list(command),
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        logger.warning("captcha audio: %s took longer than %s s", program, TIMEOUT_SECONDS)
        return None
    except OSError as exc:
        logger.warning("captcha audio: %s could not run (%s)", program, exc.strerror)
        return None
    if result.returncode != 0:
        logger.warning("captcha audio: %s exited with status %s", program, result.returncode)
        return None
    return result.stdout


def _espeak(path: str, challenge: str, language: str) -> bytes | None:
    output = _run(espeak_command(path, language), speech_markup(challenge, language))
    return fix_wav_sizes(output) if output else None


def _flite(path: str, challenge: str) -> bytes | None:
    text = ". ".join(spoken_names(challenge, "en")) + "."
    with tempfile.TemporaryDirectory(prefix="nes-captcha-") as directory:
        wav = os.path.join(directory, "audio.wav")
        if _run(flite_command(path, wav), text) is None or not os.path.isfile(wav):
            return None
        with open(wav, "rb") as f:
            return fix_wav_sizes(f.read())


def synthesize(challenge: str, language: str | None) -> bytes | None:
    """The WAV of ``challenge`` in ``language`` (the page's), or ``None`` if no program is
    installed or it failed."""
    espeak = getattr(settings, "CAPTCHA_ESPEAK_PATH", None)
    flite = getattr(settings, "CAPTCHA_FLITE_FALLBACK_PATH", None)
    wav = _espeak(espeak, challenge, voice_language(language)) if espeak else None
    if wav is None and flite:
        wav = _flite(flite, challenge)  # English only, better than no audio at all
    return wav

"""The captcha's audio (accounts/views/captcha.py, accounts/captcha_audio.py), its alphabet
(accounts/captcha_challenge.py) and the widget (templates/captcha/widgets/captcha.html).

The command line is asserted with ``subprocess.run`` replaced by a recorder; the real programs
run where they are installed (CI installs espeak-ng and flite; with NES_REQUIRE_SERVICES=1 a
missing espeak-ng fails those tests instead of skipping them).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import shutil
import struct
import subprocess
import wave
from dataclasses import dataclass, field
from typing import Any

import captcha.conf.settings as captcha_conf
import pytest
import time_machine
from captcha.models import CaptchaStore
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts import captcha_audio
from accounts.captcha_challenge import ALPHABET, challenge
from nesportal.limits import THROTTLES
from nesportal.testing.factories import DEFAULT_SECURITY_WORD

from .helpers import CAPTCHA_KEY_RE, CODE_URL, LOGIN_URL, T0

pytestmark = pytest.mark.django_db

ESPEAK = shutil.which("espeak-ng")
FLITE = shutil.which("flite")
KNOWN = "K7DAP"
LOOK_ALIKES = "0O1Il5S2Z8BG"
TURKISH_ONLY = "ÇĞİÖŞÜçğıöşü"
NOT_TURKISH = "QWX"


def require(program: str | None, name: str) -> str:
    """The program's path; without it skip, or fail when CI promised every service."""
    if program:
        return program
    if os.environ.get("NES_REQUIRE_SERVICES") == "1":
        pytest.fail(f"NES_REQUIRE_SERVICES=1 but {name} is not installed (apt-get install {name})")
    pytest.skip(f"needs {name}: apt-get install {name}")


def a_wav(seconds: float = 0.5, rate: int = 22050) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def assert_consistent_wav(data: bytes) -> None:
    """A RIFF/WAVE file whose RIFF size and data chunk size match what was sent."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    offset = data.index(b"data")
    assert struct.unpack_from("<I", data, offset + 4)[0] == len(data) - offset - 8


@dataclass
class Recorder:
    """Stands in for ``subprocess.run`` in accounts.captcha_audio: records, answers a WAV."""

    returncode: int = 0
    stdout: bytes = field(default_factory=a_wav)
    raises: BaseException | None = None
    failing: frozenset[str] = frozenset()  # programs that exit with status 1
    calls: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)

    def __call__(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append((command, kwargs))
        if self.raises is not None:
            raise self.raises
        if command[0] in self.failing:
            return subprocess.CompletedProcess(command, 1, b"", b"")
        if "-o" in command:  # flite writes a file
            with open(command[command.index("-o") + 1], "wb") as f:
                f.write(self.stdout)
            return subprocess.CompletedProcess(command, self.returncode, b"", b"")
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, b"")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    monkeypatch.setattr(captcha_audio.subprocess, "run", rec)
    return rec


@pytest.fixture
def voices(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Both programs 'installed' at fixed paths (the recorder runs nothing)."""
    settings.CAPTCHA_ESPEAK_PATH = "/usr/bin/espeak-ng"
    settings.CAPTCHA_FLITE_FALLBACK_PATH = "/usr/bin/flite"
    # What nesportal/settings.py derives from them (the library reads it once, at import).
    monkeypatch.setattr(captcha_conf, "CAPTCHA_FLITE_PATH", "/usr/bin/espeak-ng")
    return settings


def store(text: str = KNOWN, **kwargs: Any) -> CaptchaStore:
    return CaptchaStore.objects.create(challenge=text, response=text.lower(), **kwargs)


def audio_url(key: str) -> str:
    return reverse("captcha-audio", kwargs={"key": key})


def english(client: Client) -> Client:
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


# --- the response -----------------------------------------------------------------------------


def test_it_serves_real_turkish_audio_inline_and_never_stored(
    client: Client, settings: Any
) -> None:
    settings.CAPTCHA_ESPEAK_PATH = require(ESPEAK, "espeak-ng")
    key = store().hashkey

    response = client.get(audio_url(key))

    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Content-Disposition"] == 'inline; filename="captcha.wav"'
    assert "no-store" in response["Cache-Control"]
    assert key not in response["Content-Disposition"]
    assert_consistent_wav(response.content)
    assert int(response["Content-Length"]) == len(response.content)
    # Five names with pauses between them, spoken slowly: several seconds, not espeak's 0.3 s.
    assert wav_seconds(response.content) > 5
    # Served again for the same key (the "Tekrar dinle" of a browser that fetches again).
    assert client.get(audio_url(key)).status_code == 200


def test_the_real_voice_follows_the_page_language(client: Client, settings: Any) -> None:
    settings.CAPTCHA_ESPEAK_PATH = require(ESPEAK, "espeak-ng")
    key = store().hashkey

    turkish = client.get(audio_url(key)).content
    in_english = english(Client()).get(audio_url(key)).content

    assert_consistent_wav(in_english)
    assert wav_seconds(in_english) > 5
    assert turkish != in_english


def test_it_speaks_turkish_for_a_turkish_page(
    client: Client, voices: Any, recorder: Recorder
) -> None:
    response = client.get(audio_url(store().hashkey))

    assert response.status_code == 200
    [(command, kwargs)] = recorder.calls
    assert command == [
        "/usr/bin/espeak-ng", "-v", "tr", "-s", "110", "-m", "--stdin", "--stdout"
    ]  # fmt: skip
    assert kwargs["input"].decode() == (
        '<speak>ke, Kars<break time="900ms"/>yedi<break time="900ms"/>de, Denizli'
        '<break time="900ms"/>a, Adana<break time="900ms"/>pe, Polatlı</speak>'
    )
    assert kwargs["timeout"] == captcha_audio.TIMEOUT_SECONDS
    assert not kwargs.get("shell")
    # The answer is never in the arguments (the process list is readable by any local user).
    assert not any(KNOWN.lower() in arg.lower() or "Kars" in arg for arg in command)
    assert_consistent_wav(response.content)


def test_it_speaks_english_for_an_english_page(voices: Any, recorder: Recorder) -> None:
    response = english(Client()).get(audio_url(store().hashkey))

    assert response.status_code == 200
    [(command, kwargs)] = recorder.calls
    assert command[1:3] == ["-v", "en"]
    assert kwargs["input"].decode() == (
        '<speak>K, kilo<break time="900ms"/>seven<break time="900ms"/>D, delta'
        '<break time="900ms"/>A, alpha<break time="900ms"/>P, papa</speak>'
    )


def test_it_fixes_the_placeholder_sizes_espeak_writes_to_a_pipe(
    client: Client, voices: Any, recorder: Recorder
) -> None:
    wav = bytearray(a_wav())
    struct.pack_into("<I", wav, 4, 0x7FFFF024)
    struct.pack_into("<I", wav, 40, 0x7FFFF000)
    recorder.stdout = bytes(wav)

    response = client.get(audio_url(store().hashkey))

    assert_consistent_wav(response.content)
    assert response.content[44:] == wav[44:]


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: "0" * 40,
        lambda: store(expiration=timezone.now() - dt.timedelta(seconds=1)).hashkey,
    ],
    ids=["unknown", "expired"],
)
def test_an_unknown_or_expired_key_is_a_404_and_runs_nothing(
    client: Client, voices: Any, recorder: Recorder, make_key: Any
) -> None:
    response = client.get(audio_url(make_key()))

    assert response.status_code == 404
    assert recorder.calls == []


def test_an_answered_captcha_has_no_audio_any_more(
    client: Client, citizen: Any, voices: Any, recorder: Recorder
) -> None:
    page = client.get(LOGIN_URL).content.decode()
    key = CAPTCHA_KEY_RE.search(page).group(1)  # type: ignore[union-attr]
    client.post(LOGIN_URL, {"identifier": citizen.identifier, "captcha_0": key, "captcha_1": "x"})

    assert client.get(audio_url(key)).status_code == 404
    assert recorder.calls == []


@pytest.mark.parametrize(
    "failure",
    [
        {"returncode": 1},
        {"raises": subprocess.TimeoutExpired("espeak-ng", 10)},
        {"raises": FileNotFoundError(2, "No such file or directory")},
        {"stdout": b"not a wav at all, but long enough to look like one......"},
    ],
    ids=["exit-status", "timeout", "missing", "garbage"],
)
def test_a_failing_program_is_a_404_whose_log_never_holds_the_answer(
    client: Client,
    settings: Any,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    failure: dict[str, Any],
) -> None:
    settings.CAPTCHA_ESPEAK_PATH = "/usr/bin/espeak-ng"
    settings.CAPTCHA_FLITE_FALLBACK_PATH = None
    for name, value in failure.items():
        setattr(recorder, name, value)

    with caplog.at_level(logging.DEBUG):
        response = client.get(audio_url(store().hashkey))

    assert response.status_code == 404
    assert len(recorder.calls) == 1
    logged = caplog.text.lower()
    for secret in (KNOWN.lower(), "kars", "denizli", "yedi"):
        assert secret not in logged


def test_without_espeak_ng_flite_speaks_english(
    client: Client, settings: Any, recorder: Recorder
) -> None:
    settings.CAPTCHA_ESPEAK_PATH = None
    settings.CAPTCHA_FLITE_FALLBACK_PATH = "/usr/bin/flite"

    response = client.get(audio_url(store().hashkey))  # a Turkish page: flite has no Turkish

    assert response.status_code == 200
    [(command, kwargs)] = recorder.calls
    assert command[:3] == ["/usr/bin/flite", "--setf", "duration_stretch=1.6"]
    assert command[3] == "-o" and not os.path.exists(command[4])  # its directory is gone
    assert "-t" not in command
    assert kwargs["input"].decode() == "K, kilo. seven. D, delta. A, alpha. P, papa."
    assert_consistent_wav(response.content)


def test_espeak_ng_failing_falls_back_to_flite(
    client: Client, voices: Any, recorder: Recorder
) -> None:
    recorder.failing = frozenset({"/usr/bin/espeak-ng"})

    response = client.get(audio_url(store().hashkey))

    assert response.status_code == 200
    assert [c[0][0] for c in recorder.calls] == ["/usr/bin/espeak-ng", "/usr/bin/flite"]
    assert recorder.calls[1][1]["input"].decode().startswith("K, kilo. seven.")


def test_real_flite_produces_a_wav(client: Client, settings: Any) -> None:
    settings.CAPTCHA_ESPEAK_PATH = None
    settings.CAPTCHA_FLITE_FALLBACK_PATH = require(FLITE, "flite")

    response = client.get(audio_url(store().hashkey))

    assert response.status_code == 200
    assert_consistent_wav(response.content)
    assert wav_seconds(response.content) > 3


def test_without_any_program_there_is_no_audio_and_the_page_still_works(
    client: Client, settings: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CAPTCHA_ESPEAK_PATH = None
    settings.CAPTCHA_FLITE_FALLBACK_PATH = None
    # What nesportal/settings.py sets when neither is installed (the library reads it at import).
    monkeypatch.setattr(captcha_conf, "CAPTCHA_FLITE_PATH", None)

    assert client.get(audio_url(store().hashkey)).status_code == 404
    page = client.get(LOGIN_URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-captcha-image" in html and "Yenile" in html
    assert "Sesli dinle" not in html and "<audio" not in html
    refreshed = client.get(reverse("captcha-refresh"), HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert refreshed.json()["audio_url"] is None
    assert recorder.calls == []


# --- the throttle -----------------------------------------------------------------------------


def test_audio_and_images_share_the_captcha_throttle(
    voices: Any, recorder: Recorder, settings: Any
) -> None:
    key = store().hashkey
    allowed = int(THROTTLES["captcha"].rates[0].split("/")[0])
    client = Client(REMOTE_ADDR="198.51.100.67")
    with time_machine.travel(T0, tick=False):  # no window ends in the middle by chance
        for n in range(allowed):
            url = audio_url(key) if n % 2 else reverse("captcha-image", kwargs={"key": key})
            assert client.get(url).status_code == 200, f"request {n + 1} refused"
        synthesised = len(recorder.calls)

        refused_audio = client.get(audio_url(key))
        refused_image = client.get(reverse("captcha-image", kwargs={"key": key}))
        after_refusals = len(recorder.calls)
        other = Client(REMOTE_ADDR="192.0.2.45").get(audio_url(key))

    assert refused_audio.status_code == 429 and refused_image.status_code == 429
    assert "Retry-After" in refused_audio
    assert synthesised == allowed // 2
    assert after_refusals == synthesised  # a refused request runs no espeak-ng
    assert other.status_code == 200  # another client still gets its audio


# --- the alphabet -----------------------------------------------------------------------------


def test_the_alphabet_has_no_look_alikes_and_a_name_for_every_character() -> None:
    assert set(ALPHABET).isdisjoint(LOOK_ALIKES + LOOK_ALIKES.lower())
    assert set(ALPHABET).isdisjoint(TURKISH_ONLY + NOT_TURKISH)
    assert len(set(ALPHABET)) == len(ALPHABET) >= 18
    for char in ALPHABET:
        assert char.isascii() and char == char.upper()
        assert char.lower().upper() == char  # no Turkish casing surprise (I/ı, İ/i)
    for language in ("tr", "en"):
        names = captcha_audio.SPOKEN[language]
        assert set(names) == set(ALPHABET)
        assert len(set(names.values())) == len(names)  # one name per character


def test_the_challenge_draws_five_characters_of_the_alphabet() -> None:
    drawn = [challenge() for _ in range(200)]

    for shown, answer in drawn:
        assert len(shown) == 5 and set(shown) <= set(ALPHABET)
        assert answer == shown.lower()
    assert len({shown for shown, _ in drawn}) > 190  # random, not one fixed text
    # The library uses our function for every captcha it stores.
    stored = CaptchaStore.objects.get(hashkey=CaptchaStore.generate_key())
    assert set(stored.challenge) <= set(ALPHABET)


@pytest.mark.parametrize(
    "typed", [str.upper, str.lower, str.title], ids=["upper", "lower", "mixed"]
)
def test_the_login_form_accepts_the_answer_in_any_case(
    client: Client, citizen: Any, django_capture_on_commit_callbacks: Any, typed: Any
) -> None:
    page = client.get(LOGIN_URL).content.decode()
    key = CAPTCHA_KEY_RE.search(page).group(1)  # type: ignore[union-attr]
    shown = CaptchaStore.objects.get(hashkey=key).challenge
    assert set(shown) <= set(ALPHABET)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            LOGIN_URL,
            {
                "identifier": citizen.identifier,
                "security_word": DEFAULT_SECURITY_WORD,
                "captcha_0": key,
                "captcha_1": f"  {typed(shown)} ",
            },
        )

    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    assert not CaptchaStore.objects.filter(hashkey=key).exists()


# --- the widget and the image -----------------------------------------------------------------


def test_the_widget_offers_the_player_for_its_key(client: Client, voices: Any) -> None:
    html = client.get(LOGIN_URL).content.decode()
    key = CAPTCHA_KEY_RE.search(html).group(1)  # type: ignore[union-attr]

    assert f'href="{audio_url(key)}"' in html  # without JavaScript, the link opens the audio
    assert "Sesli dinle" in html and "Tekrar dinle" in html
    assert 'id="id_captcha_player" data-captcha-player hidden' in html
    assert '<audio controls preload="none" data-captcha-audio aria-label="' in html
    assert 'width="300" height="100"' in html


def test_the_widget_is_in_english_on_an_english_page(voices: Any) -> None:
    html = english(Client()).get(LOGIN_URL).content.decode()

    assert ">Listen<" in html
    assert "Sesli dinle" not in html


def test_the_refresh_gives_the_new_keys_audio(client: Client, voices: Any) -> None:
    data = client.get(reverse("captcha-refresh"), HTTP_X_REQUESTED_WITH="XMLHttpRequest").json()

    assert data["audio_url"] == audio_url(data["key"])
    assert CaptchaStore.objects.filter(hashkey=data["key"]).exists()


def test_the_image_is_drawn_at_300_by_100(client: Client) -> None:
    key = store().hashkey

    response = client.get(reverse("captcha-image", kwargs={"key": key}))

    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (300, 100)
    # The library's "@2" would draw a twice larger font into the same box: switched off.
    assert client.get(reverse("captcha-image-2x", kwargs={"key": key})).status_code == 404

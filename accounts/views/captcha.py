"""The captcha's audio (``/captcha/audio/<key>.wav``), in place of django-simple-captcha's.

The library's view speaks English with flite and sends the WAV as an attachment, so the browser
downloads a file. This one answers the ``<audio>`` player of templates/captcha/widgets/captcha.html
(static/js/captcha.js) and the plain "Sesli dinle" link without JavaScript alike: the WAV
inline, in the language of the page (``accounts.captcha_audio``), never stored by a cache.

nesportal/urls.py routes it through the "captcha" throttle, like the image and the refresh: every
request synthesises the audio again and counts once. An unknown or expired key is a 404 (the
library's 410 is for its images); a captcha that was answered is gone, so is its audio.
"""

from __future__ import annotations

from captcha.models import CaptchaStore
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ..captcha_audio import synthesize


@never_cache
@require_safe
def captcha_audio(request: HttpRequest, key: str) -> HttpResponse:
    store = CaptchaStore.objects.filter(hashkey=key, expiration__gt=timezone.now()).first()
    if store is None:
        raise Http404("no such captcha")
    wav = synthesize(store.challenge, translation.get_language())
    if wav is None:
        raise Http404("no audio")
    response = HttpResponse(wav, content_type="audio/wav")
    # No key in the file name: a saved file tells nobody which captcha it answered.
    response["Content-Disposition"] = 'inline; filename="captcha.wav"'
    response["Content-Length"] = str(len(wav))
    return response

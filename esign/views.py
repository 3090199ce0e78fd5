"""E-İmzalı Giriş pages: the page with its form, the JSON challenge and the TLS login.

Thin: each view reads the request, asks ``esign.services`` and turns the result into a
response. The order of the checks and what a failure costs are the services' contract.
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.actor import Actor
from nesportal.contact import with_phone
from nesportal.decorators import throttled
from nesportal.http import PortalRequest

from . import services
from .forms import EsignLoginForm
from .models import LoginChallenge


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def portal_origin(request: HttpRequest) -> str:
    """This portal's origin, as the card service's ``--origin`` needs it."""
    return f"{request.scheme}://{request.get_host()}"


def card_texts(request: HttpRequest) -> dict[str, str]:
    """The texts of the card pages' scripts (static/js/esign_login.js, card_check.js), in the
    visitor's language; ``{n}`` and ``{code}`` are filled in by the script."""
    logged_in = getattr(request, "citizen", None) is not None
    texts = {
        "checking": _("Bilgisayarınızdaki Akıllı Kart Servisi aranıyor…"),
        "absent": _(
            "Akıllı Kart Servisi bulunamadı: bilgisayarınızda kurulu değil ya da çalışmıyor. "
            "Kurulum adımları aşağıdadır."
        ),
        "module": _(
            "Akıllı Kart Servisi çalışıyor, ancak kart sürücüsü (PKCS#11 modülü) yüklenemedi. "
            "AKİS kart okuyucu sürücüsünü kurup servisi yeniden başlatınız."
        ),
        "no_reader": _(
            "Kart okuyucu bulunamadı. Okuyucuyu bilgisayarınızın USB girişine takıp Tekrar "
            "dene'ye basınız."
        ),
        "no_card": _(
            "Kart okuyucuda kart bulunamadı. Kartınızın çipli parçasını okuyucuya takıp Tekrar "
            "dene'ye basınız."
        ),
        "no_certificates": _("Kartınızda sertifika bulunamadı."),
        "none_ours": _(
            "Kartınızda bu sertifika hizmet sağlayıcının verdiği bir sertifika bulunamadı. "
            "Başka bir kart takıp Tekrar dene'ye basınız ya da Şifreli Giriş'i kullanınız."
        ),
        "foreign_note": _(
            "Kartınızdaki {n} sertifika bu sertifika hizmet sağlayıcının değil; listelenmedi."
        ),
        "ready": _("Kartınız okundu. Sertifikanızı seçip PIN'inizi giriniz."),
        "no_usable": _(
            "Kartınızdaki sertifikaların hiçbiriyle şu an giriş yapılamaz; nedenleri aşağıda."
        ),
        "no_key": _("Bu sertifikanın özel anahtarı kartta bulunamadı; bununla imza atılamaz."),
        "choose": _("Giriş için kullanılabilir bir sertifika seçiniz."),
        "pin_malformed": _("PIN 4 ile 16 arasında rakamdan oluşmalıdır."),
        "signing": _("Kartınızla imzalanıyor; kartınızı çıkarmayınız…"),
        "sending": _("İmzanız doğrulanıyor…"),
        "done": _("Giriş yapıldı, İşlemler Menüsü açılıyor…"),
        "pin_incorrect": _(
            "PIN hatalı. Kalan deneme hakkınız: {n}. Üst üste 3 kez hatalı girilen PIN bloke olur."
        ),
        "pin_count_low": _("Bu kartın PIN'i daha önce hatalı girildi; dikkatle giriniz."),
        "pin_final_try": _("Son deneme hakkınız: PIN bir kez daha hatalı girilirse bloke olur."),
        "pin_locked": with_phone(
            _(
                "Kartınızın PIN'i 3 kez hatalı girildiği için bloke oldu; kartla giriş ve imza "
                "yapılamaz. Şifreli Giriş yapıp İşlemler Menüsü'nde Kilit Çözme ile PIN'inizi "
                "yeniden belirleyebilir ya da %(phone)s numaralı Çağrı Merkezimizi "
                "arayabilirsiniz."
            )
        ),
        "unlock_link": _("Kilit Çözme") if logged_in else _("Şifreli Giriş ve Kilit Çözme"),
        "unlock_url": reverse("pinvault:unlock_list" if logged_in else "accounts:login"),
        "card_absent": _(
            "Kartınız okuyucudan çıkarılmış ya da okunamıyor. Kartınızı takıp yeniden deneyiniz."
        ),
        "certificate_not_found": _(
            "Seçtiğiniz sertifika kartta bulunamadı. Kartı yeniden okuyunuz."
        ),
        "rate_limited": _("Çok hızlı denediniz. Birkaç saniye bekleyip yeniden deneyiniz."),
        "service_gone": _(
            "Akıllı Kart Servisi'ne ulaşılamadı; servis kapanmış olabilir. Servisi yeniden "
            "başlatıp Tekrar dene'ye basınız."
        ),
        "service_refused": _(
            "Akıllı Kart Servisi isteği reddetti ({code}). Servisin bu portalın adresiyle "
            "(--origin) başlatıldığından emin olunuz."
        ),
        "portal_unreachable": _(
            "Portala ulaşılamadı. İnternet bağlantınızı kontrol edip yeniden deneyiniz."
        ),
        "portal_refused": services.ESIGN_FAILED,
    }
    return {key: str(value) for key, value in texts.items()}


def _render_page(request: HttpRequest, *, error: Any = None, status: int = 200) -> HttpResponse:
    """The page with a fresh challenge (after a failure too: the old one is used up)."""
    payload = services.challenge_payload(request, services.issue_challenge(request))
    form = EsignLoginForm(initial={"challenge_id": payload["challenge_id"]})
    seconds_left = int(LoginChallenge.LIFETIME.total_seconds())
    context = {
        "form": form,
        "error": error,
        "challenge": payload,
        "seconds_left": seconds_left,
        "countdown_text": "{:02d}:{:02d}".format(*divmod(seconds_left, 60)),
        "tls_enabled": bool(services.tls_header()),
        "message_prefix": "NES-PORTAL-LOGIN\\0",
        "card_texts": card_texts(request),
        "portal_origin": portal_origin(request),
        "open_manual": error is not None,
    }
    response = render(request, "esign/login.html", context, status=status)
    return services.bind_browser(response, request)


def _finish(request: PortalRequest, result: services.EsignResult) -> HttpResponse:
    menu = reverse("accounts:menu")
    if result.citizen is not None:
        services.log_in(request, result.citizen)
        response: HttpResponse
        if _wants_json(request):
            response = JsonResponse({"ok": True, "redirect": menu})
        else:
            response = redirect(menu)
        return services.unbind_browser(response)
    if _wants_json(request):
        # The precise reason only once the signature proved key possession (the holder is at
        # the keyboard); the generic refusal for everything before (services.refusal_message).
        message = services.refusal_message(result.reason)
        answer: dict[str, Any] = {"ok": False, "error": str(message)}
        if message is not services.ESIGN_FAILED:
            answer["status"] = services.POSSESSION_REASONS[result.reason]
        return JsonResponse(answer, status=400)
    return _render_page(request, error=services.ESIGN_FAILED, status=400)


@never_cache
@require_http_methods(["GET", "POST"])
@throttled("esign_challenge", methods=("GET",))  # the page makes a challenge too
@throttled("esign_login")
def login(request: PortalRequest) -> HttpResponse:
    """The page (GET) and the signed challenge's POST, from a signing tool or the form."""
    actor = Actor.from_request(request)
    if request.method == "GET":
        if getattr(request, "citizen", None) is not None:
            return redirect("accounts:menu")
        return _render_page(request)
    form = EsignLoginForm(request.POST)
    if not form.is_valid():
        return _finish(request, services.refused(actor, "form_invalid", fields=sorted(form.errors)))
    result = services.verify_login(
        actor=actor,
        binding=services.cookie_token(request),
        challenge_id=form.cleaned_data["challenge_id"],
        signature_b64=form.cleaned_data["signature"],
        certificate=form.cleaned_data["certificate"],
    )
    return _finish(request, result)


@never_cache
@require_GET
@throttled("esign_challenge")
def challenge(request: HttpRequest) -> JsonResponse:
    """The challenge as JSON, for signing tools (plus the CSRF token their POST needs)."""
    response = JsonResponse(services.challenge_payload(request, services.issue_challenge(request)))
    return services.bind_browser(response, request)


@never_cache
@require_POST
@throttled("esign_login")
def tls_login(request: PortalRequest) -> HttpResponse:
    """Log in with the TLS client certificate the reverse proxy verified and forwarded.

    Off unless ``ESIGN_TRUST_PROXY_CERT_HEADER`` names the header; then the proxy MUST strip
    that header from client requests and set it only after a verified handshake, or anyone
    could claim any certificate (which is public) by sending the header themselves.
    """
    header = services.tls_header()
    if not header:
        raise Http404
    value = request.headers.get(header, "")
    actor = Actor.from_request(request)
    if not value:
        return _finish(request, services.refused(actor, "tls_no_certificate"))
    return _finish(request, services.verify_tls_login(value, actor=actor))


@never_cache
@require_POST
@throttled("esign_challenge")
def card_certificates(request: PortalRequest) -> JsonResponse:
    """Which certificates read from the citizen's card are ours, their live status, whether
    they can sign and whether they are the logged-in citizen's (CSRF; anonymous allowed).

    Form field or JSON ``certificates``: a list of base64 DER (at most 16)."""
    value: Any
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return JsonResponse({"error": "invalid_json"}, status=400)
        value = body.get("certificates") if isinstance(body, dict) else None
    else:
        value = request.POST.getlist("certificates")
    try:
        ders = services.decode_card_certificates(value)
    except services.CardCertificatesInvalid:
        return JsonResponse({"error": "certificates_invalid"}, status=400)
    citizen = getattr(request, "citizen", None)
    return JsonResponse(
        {"certificates": services.identify_card_certificates(ders, citizen=citizen)}
    )


# What the download of the card service leaves out of the cardservice/ folder.
_SKIPPED_PARTS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "build", "dist"}
)
DOWNLOAD_NAME = "nes-kart-servisi.zip"


def _skipped(relative: Path) -> bool:
    return any(
        part in _SKIPPED_PARTS or part.endswith(".egg-info") for part in relative.parts
    ) or relative.suffix in {".pyc", ".pyo"}


@cache  # once per process: the folder only changes with a deploy
def card_service_zip() -> bytes:
    """The repository's ``cardservice/`` folder as a zip (``nes-kart-servisi/…``), without
    caches and build output. Raises FileNotFoundError when the folder is missing."""
    root = Path(settings.BASE_DIR) / "cardservice"
    if not root.is_dir():
        raise FileNotFoundError(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not path.is_symlink() and not _skipped(relative):
                archive.write(path, str(Path("nes-kart-servisi") / relative))
    return buffer.getvalue()


@require_GET
def card_service_download(request: HttpRequest) -> HttpResponse:
    """The Akıllı Kart Servisi to install on the citizen's computer (a zip of ``cardservice/``)."""
    try:
        content = card_service_zip()
    except FileNotFoundError:
        raise Http404 from None
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{DOWNLOAD_NAME}"'
    response["Content-Length"] = str(len(content))
    return response


@never_cache
@require_GET
def card_check(request: PortalRequest) -> HttpResponse:
    """Kart Kontrol: the service, the module, the reader, the card, its certificates against
    our records and their live status, the PIN tries left, each with what to do (the checks
    run in the browser, static/js/card_check.js; no PIN is asked here)."""
    return render(
        request,
        "esign/card_check.html",
        {
            "logged_in": getattr(request, "citizen", None) is not None,
            "portal_origin": portal_origin(request),
            "check_texts": check_texts(),
        },
    )


def check_texts() -> dict[str, str]:
    """The texts of Kart Kontrol's script (static/js/card_check.js); ``{…}`` filled in there."""
    texts = {
        "pass": _("Başarılı"),
        "fail": _("Başarısız"),
        "skip": _("Denetlenemedi"),
        "checking": _("Kontrol ediliyor…"),
        "all_passed": _("Bütün kontroller başarılı: kartınızla giriş ve imza yapabilirsiniz."),
        "some_failed": _(
            "{n} kontrol başarısız. Başarısız kontrolün altındaki adımları izleyiniz."
        ),
        "skipped": _("Önceki kontrol başarısız olduğu için denetlenemedi."),
        "service_ok": _("Sürüm {version}, {url} adresinde."),
        "service_absent": _("{url} adresinde yanıt veren bir servis yok."),
        "service_refused": _(
            "Servis yanıt verdi ama bu portalı reddetti ({code}): servisi bu portalın adresiyle "
            "(--origin) başlatınız."
        ),
        "module_failed": _("Sürücü yüklenemedi: {error}"),
        "readers_found": _("{n} okuyucu: {names}"),
        "no_reader": _("Hiç kart okuyucu bulunamadı."),
        "card_found": _("{label} (seri no {serial})"),
        "no_card": _("Okuyucuda kart yok."),
        "certificates_found": _("{ours} sertifika bizim, {foreign} başka."),
        "no_certificates": _("Kartta hiç sertifika yok."),
        "portal_unreachable": _("Portala ulaşılamadı; bağlantınızı kontrol ediniz."),
        "yours_ok": _("Kartınızdaki geçerli sertifika oturum açmış olan size ait."),
        "yours_not": _("Kartınızdaki geçerli sertifika başka bir kişiye ait."),
        "pin_ok": _("PIN'iniz bloke değil."),
        "pin_tries": _("PIN'iniz bloke değil; kalan deneme hakkı: {n}."),
        "pin_count_low": _("PIN daha önce hatalı girildi; dikkatle giriniz."),
        "pin_final_try": _(
            "Son deneme hakkınız kaldı: PIN bir kez daha hatalı girilirse bloke olur."
        ),
        "pin_locked": _("PIN bloke."),
    }
    return {key: str(value) for key, value in texts.items()}

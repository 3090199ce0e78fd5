"""Sertifika işlemleri: Sertifika Listele and details, PEM, Sertifikamı Kullanıma Aç, Askıya Al /
Askıdan İndir and Sertifikamı İptal Et.

* Every certificate is looked up together with the logged-in citizen (``_own``): another
  citizen's serial is a 404 on every method, before anything else happens.
* Every change is a POST (CSRF) and goes through ``certificates.services``, which runs the model
  transition under a row lock and writes the audit entry, the holder's SMS and the CRL. A
  refused transition shows its ``CertificateError`` message with status 409; nothing changed.
* Revocation is stepped up: after the citizen picked the certificate and the reason and read the
  confirmation page, a fresh SMS Onay Kodu (purpose REVOKE, subject = the serial, bound to this
  session) must be typed in. The pending revocation lives in the session under its own key and
  is time-boxed; it is only valid on the URLs of the serial it was started for.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime
from typing import Any

from cryptography import x509
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import stepup
from accounts.decorators import citizen_required
from accounts.models import Citizen, SmsChallenge
from audit.actor import Actor
from nesportal.http import CitizenRequest
from receipts.models import Receipt
from receipts.services import receipt_for

from . import pki
from .forms import RevokeForm
from .models import Certificate, CertificateError, CertificateStatusChange
from .services import (
    open_certificate,
    reinstate_certificate,
    revoke_certificate,
    suspend_certificate,
)

# The chosen certificate and reason; once the code is sent, also its SMS Onay Kodu step
# (accounts.stepup keeps the serial and reason as the step's extra data).
SESSION_REVOKE = "nes_pending_revoke"
# Choosing, confirming and typing the code must happen within this time (the session itself
# ends after 10 idle minutes anyway).
REVOKE_MAX_AGE = 10 * 60

Status = Certificate.Status

# Plain-language names for what the detail page shows; unknown values are shown as they are.
SUBJECT_LABELS = {
    "givenName": gettext_lazy("Ad"),
    "surname": gettext_lazy("Soyad"),
    "commonName": gettext_lazy("Ad Soyad"),
    "serialNumber": gettext_lazy("Kimlik numarası"),
    "countryName": gettext_lazy("Ülke"),
    "organizationName": gettext_lazy("Kuruluş"),
    "organizationalUnitName": gettext_lazy("Birim"),
    "organizationIdentifier": gettext_lazy("Kuruluş tanımlayıcısı"),
    "localityName": gettext_lazy("İl / ilçe"),
    "emailAddress": gettext_lazy("E-posta"),
}
ISSUER_LABELS = {**SUBJECT_LABELS, "commonName": gettext_lazy("Adı")}
KEY_USAGE_LABELS = {
    "nonRepudiation": gettext_lazy("İnkâr edilemezlik: nitelikli elektronik imza"),
    "digitalSignature": gettext_lazy("Sayısal imza"),
    "keyEncipherment": gettext_lazy("Anahtar şifreleme"),
    "dataEncipherment": gettext_lazy("Veri şifreleme"),
    "keyAgreement": gettext_lazy("Anahtar anlaşması"),
}
QC_LABELS = {
    # With QcCClegislation the qualification is under that country's law (Turkey: 5070).
    "QcCompliance": gettext_lazy("Nitelikli elektronik sertifika beyanı"),
    "QcSSCD": gettext_lazy("İmza anahtarı güvenli imza oluşturma aracında (AKİS kart)"),
    "QcType: esign": gettext_lazy("Elektronik imza için"),
    "QcCClegislation: TR": gettext_lazy("Türk mevzuatına göre nitelikli (5070 sayılı Kanun)"),
}


def _policy_labels() -> dict[str, Any]:
    return {
        pki.QCP_N_QSCD: gettext_lazy(
            "QCP-n-qscd: gerçek kişiye, güvenli imza aracında nitelikli sertifika"
        ),
        settings.NES_POLICY_OID: gettext_lazy("NES Portal sertifika politikası"),
    }


# --- helpers -------------------------------------------------------------------------------


def _own(request: CitizenRequest, serial: str) -> Certificate:
    """The logged-in citizen's certificate with this serial, or 404 (also for other citizens')."""
    return get_object_or_404(
        Certificate.objects.all(),
        citizen=request.citizen,
        serial_number=serial.lower(),
    )


def _date(value: datetime) -> str:
    return date_format(timezone.localtime(value), "DATE_FORMAT")


def expiry_sentence(cert: Certificate, now: datetime | None = None) -> str:
    """The answer to "Sertifikam ne zaman sona eriyor?" in plain words."""
    now = now or timezone.now()
    date = _date(cert.not_after)
    if cert.is_expired(now):
        return _("Sertifikanızın geçerliliği %(date)s tarihinde sona erdi.") % {"date": date}
    days = cert.days_left(now)
    if days == 0:
        return _("Sertifikanızın geçerliliği bugün, %(date)s tarihinde sona eriyor.") % {
            "date": date
        }
    return ngettext(
        "Sertifikanızın geçerliliği %(date)s tarihinde sona erecek (%(days)s gün kaldı).",
        "Sertifikanızın geçerliliği %(date)s tarihinde sona erecek (%(days)s gün kaldı).",
        days,
    ) % {"date": date, "days": number_format(days, force_grouping=True)}


def _actions(cert: Certificate) -> dict[str, bool]:
    """The buttons the detail page offers for the certificate's state."""
    live = not cert.is_expired()
    return {
        "can_open": live and cert.status == Status.PENDING,
        "can_suspend": live and cert.status == Status.ACTIVE,
        "can_reinstate": live
        and cert.status == Status.SUSPENDED
        and cert.suspended_by == Certificate.SuspendedBy.HOLDER,
        "can_revoke": live and cert.status != Status.REVOKED,
    }


def _history(cert: Certificate) -> list[dict[str, Any]]:
    rows = []
    change: CertificateStatusChange
    for change in cert.status_changes.all():
        if change.by_citizen_id == cert.citizen_id:
            actor = _("Siz")
        elif change.by_citizen_id is None:
            actor = _("Sertifika hizmet sağlayıcı")
        else:  # pragma: no cover - another citizen never acts on a certificate
            actor = _("Başka bir kullanıcı")
        reason = change.reason
        if reason in Certificate.RevocationReason.values:
            reason = str(Certificate.RevocationReason(reason).label)
        rows.append(
            {
                "at": change.at,
                "from": Status(change.from_status).label,
                "to": Status(change.to_status).label,
                "actor": actor,
                "reason": reason,
            }
        )
    return rows


def _refused(request: CitizenRequest, cert: Certificate, exc: CertificateError) -> HttpResponse:
    return render(
        request,
        "certificates/refused.html",
        {"certificate": cert, "error": exc.message},
        status=409,
    )


# --- Sertifika Listele and details -----------------------------------------------------------


@never_cache
@citizen_required
@require_GET
def certificate_list(request: CitizenRequest) -> HttpResponse:
    # Lists never read the DER (1-2 KB a row): only the detail and PEM pages parse it.
    certificates = (
        Certificate.objects.filter(citizen=request.citizen)
        .defer("der")
        .order_by("-not_before", "-id")
    )
    return render(request, "certificates/list.html", {"certificates": certificates})


@functools.lru_cache(maxsize=1024)  # a few KB each
def _content(serial_number: str, der: bytes, language: str) -> SafeString:
    """The "Sertifika içeriği" section: what the certificate itself says, in ``language``. A
    certificate's DER never changes, so each worker renders it once per language, not on every
    request (most of the detail page's cost was parsing and rendering this)."""
    info = pki.describe_der(der)
    policy_labels = _policy_labels()
    context = {
        "serial_number": serial_number,
        "info": info,
        "subject": [(SUBJECT_LABELS.get(k, k), v) for k, v in info["subject"]],
        "issuer": [(ISSUER_LABELS.get(k, k), v) for k, v in info["issuer"]],
        "key_usage": [(name, KEY_USAGE_LABELS.get(name, "")) for name in info["key_usage"]],
        "policies": [(oid, policy_labels.get(oid, "")) for oid in info["policies"]],
        "qc_statements": [(name, QC_LABELS.get(name, "")) for name in info["qc_statements"]],
    }
    with translation.override(language):
        return mark_safe(render_to_string("certificates/_content.html", context))  # noqa: S308


@never_cache
@citizen_required
@require_GET
def certificate_detail(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    context = {
        "certificate": cert,
        "content": _content(cert.serial_number, bytes(cert.der), get_language()),
        "expiry": expiry_sentence(cert),
        "history": _history(cert),
        **_actions(cert),
    }
    return render(request, "certificates/detail.html", context)


@never_cache
@citizen_required
@require_GET
def certificate_pem(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    pem = pki.certificate_to_pem(x509.load_der_x509_certificate(bytes(cert.der)))
    response = HttpResponse(pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{cert.serial_number}.pem"'
    return response


# --- Sertifikamı Kullanıma Aç ----------------------------------------------------------------


def _open_list_page(
    request: CitizenRequest, *, error: Any = None, status: int = 200
) -> HttpResponse:
    pending = (
        Certificate.objects.filter(
            citizen=request.citizen,
            status=Status.PENDING,
            not_after__gt=timezone.now(),
        )
        .defer("der")
        .order_by("-not_before", "-id")
    )
    return render(
        request,
        "certificates/open_list.html",
        {"certificates": pending, "error": error},
        status=status,
    )


@never_cache
@citizen_required
@require_GET
def open_list(request: CitizenRequest) -> HttpResponse:
    return _open_list_page(request)


@never_cache
@citizen_required
@require_POST
def open_for_use(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    try:
        open_certificate(cert, citizen=request.citizen, actor=Actor.from_request(request))
    except CertificateError as exc:
        return _open_list_page(request, error=exc.message, status=409)
    messages.success(
        request,
        _("%(serial)s seri numaralı sertifikanız kullanıma açıldı. Artık imza atabilirsiniz.")
        % {"serial": cert.serial_number},
    )
    return redirect(cert)


# --- Askıya Al / Askıdan İndir ---------------------------------------------------------------


@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def suspend(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    if request.method == "POST":
        try:
            suspend_certificate(cert, citizen=request.citizen, actor=Actor.from_request(request))
        except CertificateError as exc:
            return _refused(request, cert, exc)
        messages.success(
            request,
            _(
                "%(serial)s seri numaralı sertifikanız askıya alındı. Askıdan indirene kadar bu "
                "sertifikayla imza atılamaz."
            )
            % {"serial": cert.serial_number},
        )
        return redirect(cert)
    return render(
        request,
        "certificates/suspend.html",
        {"certificate": cert, "can_suspend": _actions(cert)["can_suspend"]},
    )


@never_cache
@citizen_required
@require_GET
def reinstate_list(request: CitizenRequest) -> HttpResponse:
    suspended = (
        Certificate.objects.filter(
            citizen=request.citizen,
            status=Status.SUSPENDED,
            not_after__gt=timezone.now(),
        )
        .defer("der")
        .order_by("-not_before", "-id")
    )
    by_holder = [c for c in suspended if c.suspended_by == Certificate.SuspendedBy.HOLDER]
    by_ca = [c for c in suspended if c.suspended_by != Certificate.SuspendedBy.HOLDER]
    return render(
        request, "certificates/reinstate_list.html", {"certificates": by_holder, "by_ca": by_ca}
    )


@never_cache
@citizen_required
@require_POST
def reinstate(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    try:
        reinstate_certificate(cert, citizen=request.citizen, actor=Actor.from_request(request))
    except CertificateError as exc:
        return _refused(request, cert, exc)
    messages.success(
        request,
        _("%(serial)s seri numaralı sertifikanız askıdan indirildi ve yeniden kullanılabilir.")
        % {"serial": cert.serial_number},
    )
    return redirect(cert)


# --- Sertifikamı İptal Et --------------------------------------------------------------------


def _pending_revoke(request: CitizenRequest, serial: str) -> dict[str, Any] | None:
    """This session's chosen revocation (certificate and reason), if it is fresh and for
    ``serial``."""
    pending = request.session.get(SESSION_REVOKE)
    if not pending or time.time() - pending.get("since", 0) > REVOKE_MAX_AGE:
        request.session.pop(SESSION_REVOKE, None)
        return None
    if pending.get("serial") != serial:
        return None
    return pending


def _revoke_step(serial: str) -> stepup.CodeStep:
    """The SMS Onay Kodu of a revocation: bound to the certificate (subject = its serial)."""
    start_url = f"{reverse('certificates:revoke_start')}?seri={serial}"
    return stepup.CodeStep(
        purpose=SmsChallenge.Purpose.REVOKE,
        session_key=SESSION_REVOKE,
        template="certificates/revoke_code.html",
        subject=serial,
        code_url=reverse("certificates:revoke_code", args=[serial]),
        resend_url=reverse("certificates:revoke_code_resend", args=[serial]),
        restart_url=start_url,
        max_age=REVOKE_MAX_AGE,
        restart_message=REVOKE_RESTART,
        invalid_message=REVOKE_CODE_INVALID,
        submit_label=gettext_lazy("Onayla ve İptal Et"),
    )


def _restart(request: CitizenRequest, serial: str) -> HttpResponse:
    return stepup.restart(request, _revoke_step(serial))


def _revocable(request: CitizenRequest) -> list[Certificate]:
    return list(
        Certificate.objects.filter(
            citizen=request.citizen,
            not_after__gt=timezone.now(),
        )
        .exclude(status=Status.REVOKED)
        .defer("der")
        .order_by("-not_before", "-id")
    )


@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def revoke_start(request: CitizenRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        posted = request.POST.get("certificate", "").strip()
        if posted:
            _own(request, posted)  # another citizen's serial: 404, as everywhere
        form = RevokeForm(request.POST, certificates=_revocable(request))
        if form.is_valid():
            cert = form.cleaned_data["certificate"]
            request.session[SESSION_REVOKE] = {
                "serial": cert.serial_number,
                "reason": form.cleaned_data["reason"],
                "since": int(time.time()),
            }
            return redirect("certificates:revoke_confirm", serial=cert.serial_number)
        status = 400
    else:
        form = RevokeForm(
            certificates=_revocable(request),
            initial={"certificate": request.GET.get("seri", "").lower()},
        )
    return render(request, "certificates/revoke_start.html", {"form": form}, status=status)


@never_cache
@citizen_required
@require_http_methods(["GET", "POST"])
def revoke_confirm(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    pending = _pending_revoke(request, cert.serial_number)
    if pending is None:
        return _restart(request, cert.serial_number)
    status = 200
    error = None
    if request.method == "POST":
        step = _revoke_step(cert.serial_number)
        extra = {"serial": cert.serial_number, "reason": pending["reason"]}
        sent = stepup.start(request, step, request.citizen, extra=extra)
        if not isinstance(sent, stepup.Refused):
            return sent
        error, status = sent
    context = {
        "certificate": cert,
        "reason": Certificate.RevocationReason(pending["reason"]).label,
        "error": error,
    }
    return render(request, "certificates/revoke_confirm.html", context, status=status)


REVOKE_CODE_INVALID = gettext_lazy(
    "Bu SMS Onay Kodu bu iptal işlemi için geçerli değil. Yeni kod isteyiniz."
)
REVOKE_RESTART = gettext_lazy(
    "İptal işleminin süresi doldu ya da başlatılmadı. Lütfen baştan başlayınız."
)


@stepup.code_view
@citizen_required
def revoke_code(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    pending = _pending_revoke(request, cert.serial_number)
    if pending is None:
        return _restart(request, cert.serial_number)
    if not pending.get("challenge"):  # chosen, but no code asked for yet
        return redirect("certificates:revoke_confirm", serial=cert.serial_number)

    def revoke(state: dict[str, Any], citizen: Citizen) -> HttpResponse:
        try:
            revoke_certificate(
                cert, reason=state["reason"], citizen=citizen, actor=Actor.from_request(request)
            )
        except CertificateError as exc:
            return _refused(request, cert, exc)
        return redirect("certificates:revoke_done", serial=cert.serial_number)

    context = {
        "certificate": cert,
        "reason": Certificate.RevocationReason(pending["reason"]).label,
    }
    return stepup.code_page(request, _revoke_step(cert.serial_number), revoke, context)


@stepup.resend_view
@citizen_required
def revoke_code_resend(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    if _pending_revoke(request, cert.serial_number) is None:
        return _restart(request, cert.serial_number)
    return stepup.resend(request, _revoke_step(cert.serial_number))


@never_cache
@citizen_required
@require_GET
def revoke_done(request: CitizenRequest, serial: str) -> HttpResponse:
    cert = _own(request, serial)
    if cert.status != Status.REVOKED:
        return redirect(cert)
    receipt = receipt_for(request.citizen, Receipt.Kind.REVOCATION, cert.serial_number)
    return render(
        request, "certificates/revoke_done.html", {"certificate": cert, "receipt": receipt}
    )

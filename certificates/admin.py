"""Certificates in admin: read-only for everyone; the CA's own suspension with a reason.

Certificates change state only through ``certificates.services`` (audit, SMS, CRL). Staff with
``certificates.suspend_certificate`` (the "Çağrı Merkezi Süpervizörü" group) get two buttons on
a certificate's page: "Sertifikayı askıya al" and "Sertifikayı askıdan indir", each with a
required reason. They run ``suspend_certificate`` / ``reinstate_certificate`` as the CA (no
citizen): the same path as the holder's own suspension, so the hold is published as
certificateHold in the CRLs and OCSP and the holder gets the usual SMS notice.

The citizen's page shows their certificates (status, validity, history) read-only, through
``accounts.admin.add_citizen_inline``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from accounts.admin import add_citizen_inline
from audit.actor import Actor
from nesportal.adminkit import (
    ObjectAction,
    ObjectActionsAdmin,
    ReadOnlyAdminMixin,
    ReasonAction,
    admin_time,
)

from .models import (
    Certificate,
    CertificateAuthority,
    CertificateStatusChange,
    CrlShard,
    ExpiryReminder,
)
from .services import reinstate_certificate, suspend_certificate

SUSPEND_PERMISSION = "certificates.suspend_certificate"
HISTORY = 5  # status changes shown per certificate on the citizen's page


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Certificates change state only through certificates.services (audit, SMS, CRL)."""


class StatusChangeInline(admin.TabularInline):
    model = CertificateStatusChange
    fields = readonly_fields = ("at", "from_status", "to_status", "by_citizen", "by_user", "reason")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[CertificateStatusChange]:
        # by_citizen and by_user are shown on every row.
        return super().get_queryset(request).select_related("by_citizen", "by_user")


def _describe(cert: Certificate) -> str:
    return f"{cert.serial_number} — {cert.subject_name} ({cert.display_status})"


def _suspend_action(request: HttpRequest) -> ReasonAction:
    def apply(cert: Certificate, reason: str) -> bool:
        suspend_certificate(cert, actor=Actor.from_request(request), reason=reason)
        return True

    return ReasonAction(
        name="suspend",
        title=_("Sertifikayı askıya al"),
        intro=_(
            "Bu sertifika sertifika hizmet sağlayıcı adına askıya alınacak: SİL ve OCSP onu "
            "hemen askıda (certificateHold) gösterir, sahibine SMS ile bildirilir. Sahibi "
            "askıdan kendisi indiremez. Kimin, neden askıya aldığı denetim kaydına yazılır."
        ),
        submit_label=_("Askıya al"),
        reason_label=_("Askıya alma gerekçesi"),
        reason_help=_(
            "Ör. kart kayboldu, sahibi aradı, kimliği doğrulandı. Gizli bilgi yazmayınız."
        ),
        apply=apply,
        describe=_describe,
        done=lambda count: str(_("Sertifika askıya alındı.")),
        nothing_to_do=_("Yalnızca geçerli durumdaki bir sertifika askıya alınabilir."),
    )


def _reinstate_action(request: HttpRequest) -> ReasonAction:
    def apply(cert: Certificate, reason: str) -> bool:
        reinstate_certificate(cert, actor=Actor.from_request(request), reason=reason)
        return True

    return ReasonAction(
        name="reinstate",
        title=_("Sertifikayı askıdan indir"),
        intro=_(
            "Bu sertifika askıdan indirilecek ve yeniden geçerli olacak; sahibine SMS ile "
            "bildirilir. Sahibinin kendi askıya aldığı bir sertifikayı yalnızca sahibiyle "
            "konuşup kimliğini doğruladıktan sonra indiriniz. Kimin, neden indirdiği denetim "
            "kaydına yazılır."
        ),
        submit_label=_("Askıdan indir"),
        reason_label=_("Askıdan indirme gerekçesi"),
        reason_help=_(
            "Ör. kart bulundu, sahibi aradı, kimliği doğrulandı. Gizli bilgi yazmayınız."
        ),
        apply=apply,
        describe=lambda cert: f"{_describe(cert)} — {_suspended_by(cert)}",
        done=lambda count: str(_("Sertifika askıdan indirildi.")),
        nothing_to_do=_("Bu sertifika askıda değil."),
    )


def _suspended_by(cert: Certificate) -> str:
    if cert.status != Certificate.Status.SUSPENDED:
        return ""
    return str(_("askıya alan: %(by)s") % {"by": cert.get_suspended_by_display()})


@admin.register(Certificate)
class CertificateAdmin(ObjectActionsAdmin, ReadOnlyAdmin):
    list_display = ["serial_number", "subject_name", "kind", "status", "not_before", "not_after"]
    list_filter = ["status", "kind", "ca"]
    readonly_fields = ["crl_shard"]
    search_fields = ["=serial_number", "=citizen__tckn", "=citizen__passport_no", "subject_name"]
    list_select_related = ["citizen"]
    exclude = ["der"]
    inlines = [StatusChangeInline]
    object_actions = [
        ObjectAction(
            slug="askiya-al",
            label=_("Sertifikayı askıya al"),
            permission=SUSPEND_PERMISSION,
            action=_suspend_action,
            applies=lambda cert: cert.status == Certificate.Status.ACTIVE and not cert.is_expired(),
            not_applicable=_("Yalnızca geçerli durumdaki bir sertifika askıya alınabilir."),
        ),
        ObjectAction(
            slug="askidan-indir",
            label=_("Sertifikayı askıdan indir"),
            permission=SUSPEND_PERMISSION,
            action=_reinstate_action,
            applies=lambda cert: (
                cert.status == Certificate.Status.SUSPENDED and not cert.is_expired()
            ),
            not_applicable=_("Bu sertifika askıda değil."),
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Certificate]:
        return super().get_queryset(request).defer("der")


@add_citizen_inline
class CitizenCertificateInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The citizen's certificates on their page: what the agent needs to answer the phone."""

    model = Certificate
    fk_name = "citizen"
    classes = ["nes-console"]  # admin-console.css: no str(row) line above each row
    fields = readonly_fields = ("serial_col", "kind", "status_col", "validity_col", "history_col")
    extra = 0
    can_delete = False
    show_change_link = False  # the serial number is the link
    verbose_name_plural = _("Sertifikalar")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Certificate]:
        changes = CertificateStatusChange.objects.select_related("by_user").order_by("-at", "-id")
        return (
            super()
            .get_queryset(request)
            .defer("der")
            .prefetch_related(Prefetch("status_changes", queryset=changes))
        )

    @admin.display(description=_("seri numarası"))
    def serial_col(self, obj: Certificate) -> SafeString:
        url = reverse("admin:certificates_certificate_change", args=[quote(obj.pk)])
        return format_html('<a href="{}">{}</a>', url, obj.serial_number)

    @admin.display(description=_("durum"))
    def status_col(self, obj: Certificate) -> str:
        by = _suspended_by(obj)
        return f"{obj.display_status} ({by})" if by else obj.display_status

    @admin.display(description=_("geçerlilik"))
    def validity_col(self, obj: Certificate) -> str:
        start = admin_time(obj.not_before, seconds=False)
        return f"{start} – {admin_time(obj.not_after, seconds=False)}"

    @admin.display(description=_("geçmiş"))
    def history_col(self, obj: Certificate) -> SafeString:
        changes = list(obj.status_changes.all())[:HISTORY]
        return format_html_join(
            "",
            "<div>{}: {} → {} ({})</div>",
            (
                (
                    admin_time(c.at, seconds=False),
                    c.get_from_status_display(),
                    c.get_to_status_display(),
                    _changed_by(c),
                )
                for c in changes
            ),
        )


def _changed_by(change: CertificateStatusChange) -> str:
    if change.by_user is not None:
        return change.by_user.get_username()
    return str(_("sahibi") if change.by_citizen_id else _("sistem"))


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug"]
    exclude = ["certificate_der"]


@admin.register(CrlShard)
class CrlShardAdmin(ReadOnlyAdmin):
    """What the operator watches: which CRLs exist, how big, how fresh, and whether one lags."""

    list_display = [
        "__str__",
        "shard",
        "number",
        "this_update",
        "next_update",
        "entry_count",
        "size_bytes",
        "sign_seconds",
        "pending_changes",
    ]
    list_filter = ["ca"]
    exclude = ["der"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CrlShard]:
        return super().get_queryset(request).defer("der")

    @admin.display(description=_("yayımlanmamış değişiklik"))
    def pending_changes(self, obj: CrlShard) -> int:
        return max(0, obj.wanted - obj.signed)


@admin.register(ExpiryReminder)
class ExpiryReminderAdmin(ReadOnlyAdmin):
    """The reminders sent (and thresholds skipped) per certificate: written only by
    ``certificates.reminders``, which they keep from sending anything twice."""

    list_display = ["certificate", "threshold", "outcome", "sent_at"]
    list_filter = ["threshold", "outcome"]
    search_fields = ["=certificate__serial_number"]
    list_select_related = ["certificate"]
    show_full_result_count = False  # one row per certificate and threshold: millions

    @admin.display(description=_("zaman"), ordering="at")
    def sent_at(self, obj: ExpiryReminder) -> str:
        return admin_time(obj.at)

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from nesportal.adminkit import ReadOnlyAdminMixin

from .models import Certificate, CertificateAuthority, CertificateStatusChange, CrlShard


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


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["serial_number", "subject_name", "kind", "status", "not_before", "not_after"]
    list_filter = ["status", "kind", "ca"]
    readonly_fields = ["crl_shard"]
    search_fields = ["=serial_number", "=citizen__tckn", "=citizen__passport_no", "subject_name"]
    list_select_related = ["citizen"]
    exclude = ["der"]
    inlines = [StatusChangeInline]


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

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Certificate, CertificateAuthority, CertificateStatusChange


class ReadOnlyAdmin(admin.ModelAdmin):
    """Certificates change state only through certificates.services (audit, SMS, CRL)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusChangeInline(admin.TabularInline):
    model = CertificateStatusChange
    fields = ["at", "from_status", "to_status", "by_citizen", "by_user", "reason"]
    readonly_fields = fields
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
    search_fields = ["=serial_number", "=citizen__tckn", "=citizen__passport_no", "subject_name"]
    list_select_related = ["citizen"]
    exclude = ["der"]
    inlines = [StatusChangeInline]


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "crl_number", "crl_this_update", "crl_next_update", "crl_stale"]
    exclude = ["certificate_der", "crl_der"]

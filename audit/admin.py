from django.contrib import admin

from nesportal.adminkit import ReadOnlyAdminMixin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit log can be searched and read, never changed or deleted."""

    list_display = ["at", "action", "citizen", "actor", "ip_address", "subject"]
    list_filter = ["action"]
    search_fields = ["=citizen__tckn", "=citizen__passport_no", "action", "actor__username"]
    list_select_related = ["citizen", "actor"]
    date_hierarchy = "at"
    readonly_fields = ["at", "action", "citizen", "actor", "subject", "ip_address", "data"]

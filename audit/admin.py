from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log can be searched and read, never changed or deleted."""

    list_display = ["at", "action", "citizen", "actor", "ip_address", "subject"]
    list_filter = ["action"]
    search_fields = ["=citizen__tckn", "=citizen__passport_no", "action", "actor__username"]
    list_select_related = ["citizen", "actor"]
    date_hierarchy = "at"
    readonly_fields = ["at", "action", "citizen", "actor", "subject", "ip_address", "data"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

"""Template tags of the E-Onay pages: an application's facts and a decided application's row,
each rendered once per worker for each distinct content (``nesportal.fragments``; the key
holds every value the fragment shows). They were most of the E-Onay page's cost."""

from django import template
from django.utils.safestring import SafeString

from eonay.models import Application
from nesportal.fragments import render_cached

register = template.Library()


@register.simple_tag
def application_facts(application: Application) -> SafeString:
    key = (
        application.reference,
        application.kind,
        application.institution_name,
        application.institution_tax_number,
        application.entered_at,
        application.contact_name,
        application.contact_phone,
        application.contact_email,
    )
    return render_cached("eonay/_facts.html", key, {"application": application})


@register.simple_tag
def decided_row(application: Application) -> SafeString:
    """A row of "Karar verilmiş başvurular" (``decided_by_consent`` selected with it)."""
    consent = application.decided_by_consent
    key = (
        application.reference,
        application.kind,
        application.institution_name,
        application.status,
        application.decided_at,
        consent.given_at if consent is not None else None,
    )
    return render_cached("eonay/_decided_row.html", key, {"application": application})

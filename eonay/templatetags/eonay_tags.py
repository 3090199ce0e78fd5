"""Template tags of the E-Onay pages: an application's facts and a decided application's row,
each rendered once per worker for each distinct content (``nesportal.fragments``; the key
holds every value the fragment shows). They were most of the E-Onay page's cost."""

from collections.abc import Hashable

from django import template
from django.utils.safestring import SafeString

from eonay.models import Application, Consent
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
        # A card signature is immutable: its id stands for its serial and time.
        application.decision_signature_id,
    )
    return render_cached("eonay/_decided_row.html", key, {"application": application})


@register.simple_tag(takes_context=True)
def card_dialog(context: template.Context) -> SafeString:
    """The "Kartımla İmzala" dialog: the same for every citizen (its texts, the card service's
    address), so rendered once per worker and language; nothing of the citizen is in it."""
    values = {
        "card_service_url": context.get("card_service_url", ""),
        "call_centre_phone": context.get("call_centre_phone", ""),
    }
    return render_cached("eonay/_card_dialog.html", tuple(values.values()), values)


@register.simple_tag
def card_button(target: Application | str, action: str) -> SafeString:
    """The "Kartımla İmzala" button of a waiting application (``approve``/``reject``) or of a
    standing-consent scope (``give``/``withdraw``): rendered once per worker for each
    application (its id and reference are all it shows) or scope and action."""
    if isinstance(target, Application):
        key: tuple[Hashable, ...] = ("application", target.pk, target.reference, action)
        context = {"application": target, "action": action}
    else:
        key = ("scope", target, action)
        context = {"scope": target, "scope_label": Consent.Scope(target).label, "action": action}
    return render_cached("eonay/_card_button.html", key, context)

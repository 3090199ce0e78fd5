"""Template filters of the card pages.

``state_badge`` is an AKİS card's state in its coloured badge: one filter call per row instead
of an ``{% include %}`` per row (bench/pages.py measures the list pages).
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from pinvault.models import AkisCard

register = template.Library()

_CSS: dict[str, str] = {
    AkisCard.State.ACTIVE.value: "status-active",
    AkisCard.State.PIN_LOCKED.value: "status-suspended",
}


@register.filter
def state_badge(card: AkisCard) -> SafeString:
    css = _CSS.get(card.state, "status-revoked")
    return format_html('<span class="status {}">{}</span>', css, AkisCard.State(card.state).label)

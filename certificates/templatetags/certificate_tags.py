"""Template tags of the certificate pages.

``status_badge`` is the status label of a certificate (as ``Certificate.display_status``) in its
coloured badge: a filter call instead of an ``{% include %}``. ``certificate_row`` is a row of
Sertifika Listele, rendered once per worker for each distinct state (``nesportal.fragments``):
the rows were most of that page's cost (bench/pages.py).
"""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from certificates.models import Certificate
from nesportal.fragments import render_cached

register = template.Library()


@register.filter
def status_badge(certificate: Certificate) -> SafeString:
    css = "expired" if certificate.shows_expired() else certificate.status
    return format_html('<span class="status status-{}">{}</span>', css, certificate.display_status)


@register.simple_tag
def certificate_row(certificate: Certificate) -> SafeString:
    """The certificate's row in Sertifika Listele (``certificates/_row.html``), rendered once per
    worker for each distinct state: the key holds every value the row shows."""
    key = (
        certificate.serial_number,
        certificate.kind,
        certificate.status,
        certificate.not_before,
        certificate.not_after,
        certificate.shows_expired(),
    )
    return render_cached("certificates/_row.html", key, {"certificate": certificate})

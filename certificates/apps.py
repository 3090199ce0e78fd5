from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificatesConfig(AppConfig):
    """Certificates, CRL and OCSP: built in the "Sertifika işlemleri" issue."""

    name = "certificates"
    verbose_name = _("Sertifikalar")

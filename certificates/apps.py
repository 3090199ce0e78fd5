from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificatesConfig(AppConfig):
    """Certificates, CRL and OCSP."""

    name = "certificates"
    verbose_name = _("Sertifikalar")

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            responder,
            tasks,
        )
        from .models import Certificate, status_committed

        def on_status_committed(sender: type, certificate: Certificate, **kwargs: object) -> None:
            # OCSP first: it must answer the new status at once; the CRL follows.
            responder.status_changed(certificate)
            tasks.queue_publication(certificate.ca_id, certificate.crl_shard)

        # weak=False: the receiver is a local function, nothing else keeps it alive.
        status_committed.connect(
            on_status_committed,
            sender=Certificate,
            weak=False,
            dispatch_uid="certificates.status",
        )

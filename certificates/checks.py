"""System checks for the CA's public repository (``manage.py check --deploy`` runs them).

A strict relying party (``openssl verify -crl_check_all``, AdES validators) needs revocation
information for every certificate of the path: the issuing CA certificate must name the root's
CRL (ARL) and the root certificate, and the ARL must be there and valid.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.checks import Tags, Warning, register

from . import ca as ca_module
from . import pki


@register(Tags.security, deploy=True)
def check_strict_path(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    try:
        issuing = ca_module.material().certificate
    except pki.CaConfigurationError as exc:
        return [
            Warning(
                f"The issuing CA cannot be loaded: {exc}",
                hint="Set NES_CA_CERT_PATH, NES_CA_KEY_PATH and NES_CA_CHAIN_PATH (README).",
                id="certificates.W001",
            )
        ]
    problems = []
    extensions = {extension.oid for extension in issuing.extensions}
    for oid, what in (
        (x509.ExtensionOID.CRL_DISTRIBUTION_POINTS, "a CRL distribution point (the ARL)"),
        (x509.ExtensionOID.AUTHORITY_INFORMATION_ACCESS, "an AIA caIssuers (the root)"),
    ):
        if oid not in extensions:
            problems.append(
                Warning(
                    f"The issuing CA certificate has no {what}: strict validators "
                    "(openssl verify -crl_check_all) reject every certificate it issued.",
                    hint="Have the root issue the CA certificate with both (README: strict path).",
                    id="certificates.W002",
                )
            )
    try:
        arl = x509.load_der_x509_crl(ca_module.arl_der())
    except (OSError, ValueError):
        problems.append(
            Warning(
                f"No readable root CRL (ARL) at NES_ARL_PATH={settings.NES_ARL_PATH}.",
                hint="Copy the ARL signed at the root's ceremony there (DER or PEM).",
                id="certificates.W003",
            )
        )
    else:
        if arl.next_update_utc is None or arl.next_update_utc <= datetime.now(UTC):
            problems.append(
                Warning(
                    "The root CRL (ARL) has expired: strict validators reject the whole path.",
                    hint="Sign a new ARL at the root and copy it to NES_ARL_PATH.",
                    id="certificates.W004",
                )
            )
    return problems

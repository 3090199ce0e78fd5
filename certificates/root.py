"""The root CA's revocation list (ARL): signed offline, served by the portal from a file.

A real root key never sits on the portal's host: the operator signs the ARL at the root's
ceremony and copies the file to ``NES_ARL_PATH``. The demo keeps its root key in a file
(``NES_ROOT_KEY_PATH``, demo only) so that ``manage.py sign_arl`` can play that ceremony.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.utils import timezone

from . import ca as ca_module
from . import pki

ARL_VALIDITY = timedelta(days=365)
# seed_demo re-signs the demo ARL when less than this remains.
ARL_RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class SignedArl:
    path: Path
    number: int
    next_update: datetime


def _existing(path: Path) -> x509.CertificateRevocationList | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if data.lstrip().startswith(b"-----"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def arl_due(*, now: datetime | None = None) -> bool:
    """Whether the ARL file is missing or ends within ``ARL_RENEW_BEFORE``."""
    now = now or timezone.now()
    try:
        arl = _existing(Path(settings.NES_ARL_PATH))
    except ValueError:
        return True
    return (
        arl is None or arl.next_update_utc is None or arl.next_update_utc - now < ARL_RENEW_BEFORE
    )


def sign_arl(
    *,
    validity: timedelta = ARL_VALIDITY,
    now: datetime | None = None,
    root_certificate: Path | None = None,
    root_key: Path | None = None,
    out: Path | None = None,
    idp_url: str | None = None,
) -> SignedArl:
    """Sign a new ARL with the root key into ``out`` (DER), numbered one above the file it
    replaces and written atomically (the portal never serves half a file).

    Defaults: the root certificate in ``NES_CA_CHAIN_PATH``, its key in ``NES_ROOT_KEY_PATH``,
    the file ``NES_ARL_PATH`` and the portal's ARL URL as issuingDistributionPoint (it must be
    the CRL distribution point written into the issuing CA certificate). Lists no revoked CA
    certificate: the demo revokes none.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    path = Path(out or settings.NES_ARL_PATH)
    root = pki.load_root(
        Path(root_certificate or settings.NES_CA_CHAIN_PATH),
        Path(root_key or settings.NES_ROOT_KEY_PATH),
    )
    try:
        previous = _existing(path)
    except ValueError:
        previous = None
    number = 1
    if previous is not None:
        try:
            number = (
                previous.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
            )
        except x509.ExtensionNotFound:
            number = 1
    arl = pki.build_arl(
        root,
        crl_number=number,
        this_update=now,
        next_update=now + validity,
        idp_url=idp_url or ca_module.arl_url(settings.NES_CA_SLUG),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(arl.public_bytes(serialization.Encoding.DER))
    os.replace(temporary, path)
    return SignedArl(path=path, number=number, next_update=now + validity)

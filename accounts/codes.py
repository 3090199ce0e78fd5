"""The SMS Onay Kodu of a challenge, derived with the server key and never stored.

Six digits of RFC 4226 HOTP (``pyotp``) whose secret is HMAC-SHA256(server key, challenge id ‖
purpose ‖ subject ‖ citizen id). ``accounts.otp`` compares a submitted code with it; the SMS
texts (``accounts.sms_texts``) derive it again at send time, so nothing that reveals a code is
ever written anywhere. See ``accounts/otp.py`` for the whole contract.
"""

from __future__ import annotations

import base64

import pyotp
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from .models import SmsChallenge

CODE_DIGITS = 6


@sensitive_variables("secret")
def expected_code(challenge: SmsChallenge) -> str:
    """The code for ``challenge``, derived with the server key (never stored)."""
    mac = salted_hmac(
        "nesportal.accounts.otp",
        f"{challenge.pk}:{challenge.purpose}:{challenge.subject}:{challenge.citizen_id}",
        algorithm="sha256",
    ).digest()
    secret = base64.b32encode(mac).decode()
    return pyotp.HOTP(secret, digits=CODE_DIGITS).at(0)

"""Every limit of the portal against abuse, in one place (README "Security" lists them).

Two kinds, deliberately apart:

* **Request throttles** (``THROTTLES``): what one *client* (an IP address, taken from a trusted
  forwarded header behind the proxy, ``nesportal.clientip``) may try per window. They cost the
  attacker, never the citizen: a throttle is never keyed by the target (a T.C. Kimlik No, a
  phone number), since a limit on the target is a lockout anybody could trigger. The per-target
  protection is the 3-strike account lock (reserved in the database before any secret is
  checked) and the SMS budgets below.
* **Budgets** (SMS and e-mail): how many messages the portal sends to one citizen, number or
  address per window, counted in the database (``SmsMessage``/``ContactChange`` rows), so they
  hold across processes and restarts. A budget never mixes what the holder asked for with what
  somebody else triggered: recovery codes (which anyone who knows an ID and a birth date can
  ask for) have their own, smaller budget and never use up the holder's own login codes.

Rates are django-ratelimit's ``"<count>/<period>"`` strings (``s``, ``m``, ``h``, ``d``):
fixed windows in the default cache (Redis in production). A throttle whose cache is down lets
the request through (fail open, logged): the account lock and the budgets, which live in the
database, still hold, and a Redis outage must not shut every citizen out.

Operators tune the throttles with one variable, ``NES_THROTTLES`` (read by the settings module,
checked at startup): ``name=rate[;rate…]`` entries separated by commas, each replacing every
rate of that throttle, e.g. ``NES_THROTTLES=login=20/m;100/h,captcha=60/m``. Names not given
keep the figures below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache


@dataclass(frozen=True)
class Throttle:
    """One request throttle: ``rates`` are all checked, the first one exceeded answers 429."""

    name: str
    rates: tuple[str, ...]
    methods: tuple[str, ...] = ("POST",)


THROTTLES: dict[str, Throttle] = {
    # Şifreli Giriş (T.C. Kimlik No + captcha + Güvenlik Sözcüğü) and its SMS code step.
    "login": Throttle("login", ("10/m", "60/h")),
    "login_code": Throttle("login_code", ("10/m", "60/h")),
    # Güvenlik Sözcüğümü Unuttum: the identity form, and (apart, with the same figures) its code
    # step, so that a mistyped code does not use up the form's tries.
    "recovery": Throttle("recovery", ("5/m", "30/h")),
    "recovery_code": Throttle("recovery_code", ("5/m", "30/h")),
    # E-İmzalı Giriş: a challenge (GET) and a signed answer (POST).
    "esign_challenge": Throttle("esign_challenge", ("20/m", "200/h"), ("GET", "POST")),
    "esign_login": Throttle("esign_login", ("10/m", "60/h")),
    # E-Onay signed with the card: a text prepared (POST) and a signature posted (POST); a visit
    # needs a handful (README "E-Onay with the card").
    "eonay_card": Throttle("eonay_card", ("20/m", "200/h")),
    # Captcha images and audio (each one costs a render).
    "captcha": Throttle("captcha", ("30/m", "300/h"), ("GET", "POST")),
    # Security-word reset links and "Bu işlemi ben yapmadım" links opened or used (the token is
    # checked in the database).
    "link": Throttle("link", ("10/m", "60/h"), ("GET", "POST")),
    # The AKİS card tool API's calls without a valid API key (calls with one are not limited:
    # the key is the tool's identity, and strangers sharing its address must not stop it).
    "cardtool": Throttle("cardtool", ("30/m", "600/h"), ("GET", "POST")),
    # Django admin's password form and its second factor (django-otp TOTP or a backup code).
    "admin_login": Throttle("admin_login", ("10/m", "60/h")),
    "admin_otp": Throttle("admin_otp", ("10/m", "60/h")),
}

# Staff accounts (Django admin): wrong passwords and wrong second-factor codes count together;
# this many in a row lock the account until a superuser unlocks it (``staff.guard``). On top,
# django-otp doubles the wait after each wrong code of one device (1 s, 2 s, 4 s, ...).
STAFF_MAX_FAILURES = 5
# How long the password step stays valid while the second factor is asked for (seconds).
STAFF_PENDING_MAX_AGE = 5 * 60

_RATE = re.compile(r"^[1-9][0-9]*/[0-9]*[smhd]$")


@lru_cache(maxsize=8)  # read on every throttled request; the variable rarely changes
def parse_throttle_overrides(text: str) -> dict[str, tuple[str, ...]]:
    """``"login=20/m;100/h,captcha=60/m"`` → ``{"login": ("20/m", "100/h"), …}``.

    Raises ValueError (the settings module turns it into ImproperlyConfigured) for an unknown
    name or a rate django-ratelimit would not read the way it looks (``"10/m"``, ``"100/5m"``).
    """
    overrides: dict[str, tuple[str, ...]] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, sep, rates_text = entry.partition("=")
        name = name.strip()
        rates = tuple(r.strip() for r in rates_text.split(";") if r.strip())
        if not sep or name not in THROTTLES:
            raise ValueError(
                f"NES_THROTTLES: unknown throttle {name!r} (known: {sorted(THROTTLES)})"
            )
        if not rates or not all(_RATE.match(rate) for rate in rates):
            raise ValueError(f"NES_THROTTLES: {name}: rates are count/period, e.g. 10/m;60/h")
        overrides[name] = rates
    return overrides


def throttle(name: str, overrides: str = "") -> Throttle:
    """``THROTTLES[name]``, with the rates ``overrides`` (``NES_THROTTLES``) gives it, if any."""
    rates = parse_throttle_overrides(overrides).get(name) if overrides else None
    return replace(THROTTLES[name], rates=rates) if rates else THROTTLES[name]


# --- SMS budgets (counted in SmsMessage rows) -------------------------------------------------

# The budget of one visit (README "SMS budget"): a holder doing every menu operation once —
# login, Sertifikamı İptal Et, PIN/PUK Bilgisi (one code covers viewing, then saving or
# deleting, for the visit: pinvault.views.GRANT_SECONDS), Kilit Çözme (its code also shows the
# card's PUK), an old card's PIN/PUK, an E-Onay decision, a new mobile number — needs 7 codes;
# 10 leaves room for a resent code or two. Irreversible actions keep their own code, bound to
# the certificate, card or application.
# Codes the holder asked for (login, revoke, PIN/PUK, Kilit Çözme, E-Onay, phone change).
OWN_CODES_PER_HOUR = 10
# Codes of the recovery path, which a third party who knows an ID and a birth date can trigger.
RECOVERY_CODES_PER_HOUR = 3
# Between two codes for the *same* operation (purpose and subject: "Yeni kod gönder", a second
# login); a code for another operation may follow at once (a double click reuses the open code).
SECONDS_BETWEEN_CODES = 60
# Codes sent to one *new* number for a phone change, per day (whoever asks).
PHONE_CHANGE_CODES_PER_NUMBER_PER_DAY = 3
# Notices (address changed, certificate suspended, …) per citizen per hour; then one SMS says
# that further notices this hour are held back ("NOTICES_CAPPED"), and later ones are recorded
# as suppressed without being sent (the security log shows them all).
# A full visit (README "SMS budget") sends 9 notices, each with its "Bu işlemi ben yapmadım"
# link: 10 keeps the holder's own visit under the cap.
NOTICES_PER_HOUR = 10

# The most SMS one phone number can receive from the portal in an hour, whoever triggers them:
# the holder's own codes (which need the security word), the recovery codes, the notices
# (the "hesabınız korumaya alındı" one included) and the one cap notice. Reminders (at most one
# per certificate a day) and the reset links an agent sends are on top.
# tests/accounts/test_visit_budget.py hammers every path and checks this bound.
SMS_PER_PHONE_PER_HOUR = OWN_CODES_PER_HOUR + RECOVERY_CODES_PER_HOUR + NOTICES_PER_HOUR + 1

# --- E-mail budgets (counted in ContactChange rows) -------------------------------------------

# Confirmation mails for an e-mail change, per citizen per day and per target address per day.
EMAIL_CONFIRMATIONS_PER_CITIZEN_PER_DAY = 3
EMAIL_CONFIRMATIONS_PER_ADDRESS_PER_DAY = 3

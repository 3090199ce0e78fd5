"""System checks for the accounts app (``manage.py check --deploy`` runs the deploy ones)."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

# E-mail backends that print, store or drop mail instead of delivering it.
DEVELOPMENT_EMAIL_BACKENDS = {
    "nesportal.mail.RedactingConsoleBackend",
    "nesportal.mail.RedactingFileBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register(Tags.security, deploy=True)
def check_sms_and_email_backends(app_configs: Any = None, **kwargs: Any) -> list[Warning | Error]:
    problems: list[Warning | Error] = []
    if not settings.DEBUG and settings.SMS_BACKEND in {"console", "file", "locmem"}:
        problems.append(
            Warning(
                f"SMS_BACKEND={settings.SMS_BACKEND!r} delivers no SMS: it writes them (codes "
                "and link tokens masked) to the console, a file or memory.",
                hint="Set SMS_BACKEND=twilio and the TWILIO_* variables in production.",
                id="accounts.W001",
            )
        )
    if not settings.DEBUG and settings.EMAIL_BACKEND in DEVELOPMENT_EMAIL_BACKENDS:
        problems.append(
            Warning(
                f"EMAIL_URL selects {settings.EMAIL_BACKEND}: it delivers no e-mail (the "
                "console and file backends write them with link tokens masked).",
                hint="Set EMAIL_URL=smtp+tls://user:password@host:587 (or EMAIL_URL_FILE) in "
                "production.",
                id="accounts.W003",
            )
        )
    if not settings.DEBUG and settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append(
            Warning(
                "No Celery broker: SMS are sent inside the web request.",
                hint="Set REDIS_URL (or CELERY_BROKER_URL) and run a celery worker.",
                id="accounts.W002",
            )
        )
    return problems


@register(Tags.compatibility)
def check_twilio_configured(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if settings.SMS_BACKEND == "twilio" and not (
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM
    ):
        return [
            Error(
                "SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM.",
                id="accounts.E001",
            )
        ]
    return []

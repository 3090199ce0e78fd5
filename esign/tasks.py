"""Celery tasks of E-İmzalı Giriş: the purge of expired challenges (Celery beat).

Thin, as STYLE.md wants: the work is ``esign.services.purge_expired_challenges``.
"""

from __future__ import annotations

import logging

from celery import shared_task

from .services import purge_expired_challenges

logger = logging.getLogger(__name__)


@shared_task(name="esign.purge_challenges", acks_late=True)
def purge_challenges() -> int:
    """Celery beat: delete E-İmzalı Giriş challenges past their expiry. Idempotent."""
    count = purge_expired_challenges()
    logger.info("housekeeping: deleted esign_challenges=%d", count)
    return count

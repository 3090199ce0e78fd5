"""Benchmark-only settings (bench/pages.py): the portal's, plus one bare view at /bench/bare/.

Never used by the portal itself: production runs ``nesportal.settings``, whose URLs do not
include the bare view. Everything else — middleware, sessions, database, cache, templates — is
the portal's, so the bare view's throughput is the floor of a Django page on the same stack.
"""

from pathlib import Path

from nesportal.settings import *  # noqa: F403
from nesportal.settings import TEMPLATES as _PORTAL_TEMPLATES

ROOT_URLCONF = "bench.bare_urls"
TEMPLATES = [
    {
        **_PORTAL_TEMPLATES[0],
        "DIRS": [*_PORTAL_TEMPLATES[0]["DIRS"], Path(__file__).parent / "templates"],
    }
]

"""Template fragments rendered once per worker for each distinct input.

A table row of a certificate or the facts of an E-Onay application depend only on a few column
values, the language and the time zone — never on the request, a CSRF token or the clock — yet
rendering them is most of a list page's cost (bench/pages.py). ``render_cached`` keeps each
fragment's output in a per-process LRU keyed on the template, a ``key`` tuple of **every value
the template reads**, the active language, the current time zone and the URL prefix: when a
value changes (a certificate is suspended, expires) the key changes, so a stale fragment is never
shown.

The caller owns the key: a template that starts reading another attribute must add it to the
key (``tests/nesportal/test_fragments.py`` renders every state both ways and compares). Only
public facts belong here: a fragment must not hold a secret (the cache lives as long as the
worker).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString

MAX_ENTRIES = 8192  # a few hundred bytes each

_cache: OrderedDict[tuple[Hashable, ...], SafeString] = OrderedDict()
_lock = threading.Lock()


def render_cached(
    template_name: str, key: tuple[Hashable, ...], context: Mapping[str, Any]
) -> SafeString:
    """``template_name`` rendered with ``context``, or the copy rendered earlier for ``key``."""
    full_key = (
        template_name,
        key,
        translation.get_language(),
        timezone.get_current_timezone_name(),
        get_script_prefix(),  # links in the fragment are reversed under it
    )
    with _lock:
        found = _cache.get(full_key)
        if found is not None:
            _cache.move_to_end(full_key)
            return found
    rendered = render_to_string(template_name, dict(context))  # a SafeString
    with _lock:
        _cache[full_key] = rendered
        if len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return rendered


def clear() -> None:
    """Forget every fragment (tests; a running worker never needs it)."""
    with _lock:
        _cache.clear()

"""Yardım: the citizen's help pages (content only) and the favicon. (The session-timeout figures
of ``templates/base.html`` are ``accounts/templatetags/session_tags.py``.)

It imports no feature app: the pages link to them by URL name only."""

"""Yardım: the citizen's help pages (content only), and the page furniture every page shares:
the favicon and the session-timeout figures ``templates/base.html`` gives static/js/session.js.

It imports no feature app: the pages link to them by URL name only."""

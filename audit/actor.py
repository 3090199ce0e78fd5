"""``Actor``: who did something, as services and the audit log need it — never the request.

Only views see HTTP. A view (or admin action, or the card-tool API) builds one ``Actor`` per
request with :meth:`Actor.from_request` and passes it to the services it calls; a management
command or a task builds one with :meth:`Actor.system`. Services take ``actor: Actor``
(keyword-only) and hand it to ``audit.log.record(..., actor=actor)``, which writes its
``user`` as the event's actor and its ``ip`` as the event's address (pretix passes
``user=…, auth=…`` the same way; Django's token generator takes a user, not a request).

An ``Actor`` is a frozen value: what a service learns from it cannot change under it, and it
holds nothing of the session (a service that must change the session, like
``accounts.services.login_citizen``, still takes the request).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest

from nesportal.clientip import client_ip

if TYPE_CHECKING:
    from accounts.models import Citizen


@dataclass(frozen=True)
class Actor:
    """Who acted: a citizen, a staff user, a tool (a card-tool API key's name, a management
    command's name), or none of them (an anonymous visitor); from which address; in which
    request (``nesportal.logs`` request id, ``""`` outside a request)."""

    citizen: Citizen | None = None
    user: Any = None
    tool: str = ""
    ip: str | None = None
    request_id: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, *, tool: str = "") -> Actor:
        """The actor of one web request: the logged-in citizen (``request.citizen``), the
        logged-in staff user (``request.user``), the client's address
        (``nesportal.clientip.client_ip``) and the request id, where the middleware set them.

        A citizen's own action is never credited to a staff user who happens to be logged into
        admin in the same browser (an agent trying the portal): the staff user counts only on
        admin's pages or when no citizen is logged in."""
        user = getattr(request, "user", None)
        citizen = getattr(request, "citizen", None)
        in_admin = request.path_info.lstrip("/").startswith(settings.ADMIN_URL)
        staff = getattr(user, "is_authenticated", False) and (citizen is None or in_admin)
        return cls(
            citizen=citizen,
            user=user if staff else None,
            tool=tool,
            ip=client_ip(request) or None,
            request_id=getattr(request, "request_id", "") or "",
        )

    @classmethod
    def system(cls, name: str) -> Actor:
        """A management command, a task or a test acting on its own: no user, no address."""
        return cls(tool=name)

    @classmethod
    def staff(cls, user: Any) -> Actor:
        """A staff user known outside a request (the address is unknown)."""
        return cls(user=user)

    def with_user(self, user: Any) -> Actor:
        """The same actor with the staff user the event is to be credited to (a citizen using
        an agent's reset link: the agent vouched for the change)."""
        return replace(self, user=user)

    @property
    def audit_user(self) -> Any:
        """The staff user the audit log records as the event's actor, or None."""
        user = self.user
        return user if getattr(user, "is_authenticated", False) else None

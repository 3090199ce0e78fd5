"""A bare Django view: what any page on this stack costs at least (bench/pages.py).

It reads the session (a logged-in citizen's cookie), makes a CSRF token, runs one indexed query
(a Citizen by primary key) and renders a ~5 kB template through the portal's template engine
— under the portal's middleware, as every page is.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

from accounts.models import Citizen
from accounts.services import SESSION_CITIZEN

# Rows for the template's table: enough text for a ~5 kB page, like a portal list page.
ROWS = [
    {
        "number": i,
        "title": f"Benchmark satırı {i}",
        "text": "Nitelikli elektronik sertifika işlemleri için örnek bir satır metni.",
    }
    for i in range(1, 25)
]


def bare(request: HttpRequest) -> HttpResponse:
    citizen_id = request.session.get(SESSION_CITIZEN)
    token = get_token(request)
    person = Citizen.objects.filter(pk=citizen_id).first() if citizen_id is not None else None
    return render(request, "bench/bare.html", {"person": person, "token": token, "rows": ROWS})

"""NES Portal Akıllı Kart Servisi: a small local HTTP service between the portal's page and the
citizen's smart card (PKCS#11).

It listens on 127.0.0.1 only, answers only the configured portal origins, and signs exactly two
message formats (the E-İmzalı Giriş login challenge, built by the service itself, and the
E-Onay consent text, checked line by line). The PIN goes from the page to the card and nowhere
else: it is never logged, stored or put into an answer.
"""

from __future__ import annotations

__all__ = ["PROTOCOL", "SERVICE_NAME", "__version__"]

__version__ = "1.0.0"
# The HTTP protocol's version (answered by /v1/status); bumped only for incompatible changes.
PROTOCOL = 1
SERVICE_NAME = "nes-kart-servisi"

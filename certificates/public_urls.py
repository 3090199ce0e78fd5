"""The CA's public repository: the URLs written into every certificate (CRL DP, AIA, QcPDS).

No ``app_name`` prefix is needed by relying parties, but the names are namespaced for reverse().
"""

from django.urls import path

from . import public_views

app_name = "ca_public"

urlpatterns = [
    path("crl/<slug:slug>.crl", public_views.crl, name="crl"),
    path("ca/pds/", public_views.pds, name="pds"),
    path("ca/<slug:slug>-chain.pem", public_views.ca_chain, name="chain"),
    path("ca/<slug:slug>.crt", public_views.ca_certificate, name="certificate"),
    # The AIA URL has no trailing slash; accept one too rather than redirect a POST.
    path("ocsp", public_views.ocsp_post, name="ocsp"),
    path("ocsp/", public_views.ocsp_post),
    path("ocsp/<path:encoded>", public_views.ocsp_get, name="ocsp_get"),
]

"""The CA's public repository: the URLs written into every certificate (CRL DP, AIA, QcPDS).

No ``app_name`` prefix is needed by relying parties, but the names are namespaced for reverse().
The ``-root`` patterns come first: a slug may itself contain dashes.
"""

from django.urls import path, re_path

from . import public_views

app_name = "ca_public"

urlpatterns = [
    path("crl/<slug:slug>-root.crl", public_views.arl, name="arl"),
    path("crl/<slug:slug>.crl", public_views.crl, name="crl"),
    re_path(
        r"^crl/(?P<slug>[-\w]+)/(?P<shard>[0-9]{6})\.crl$", public_views.crl_shard, name="shard"
    ),
    path("ca/pds/", public_views.pds, name="pds"),
    path("ca/<slug:slug>-chain.pem", public_views.ca_chain, name="chain"),
    path("ca/<slug:slug>-root.crt", public_views.root_certificate, name="root"),
    path("ca/<slug:slug>.crt", public_views.ca_certificate, name="certificate"),
    # The AIA URL has no trailing slash; accept one too rather than redirect a POST.
    path("ocsp", public_views.ocsp_post, name="ocsp"),
    path("ocsp/", public_views.ocsp_post),
    path("ocsp/<path:encoded>", public_views.ocsp_get, name="ocsp_get"),
]

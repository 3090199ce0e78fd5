"""The help topics, in the order of the Yardım page: the seed's site-wide links first."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str | Promise
    summary: str | Promise

    @property
    def template(self) -> str:
        return f"help/{self.slug.replace('-', '_')}.html"


TOPICS: tuple[Topic, ...] = (
    Topic(
        "pin-kodu",
        _("PIN kodumu nasıl öğrenebilirim?"),
        _("PIN/PUK Bilgisi ekranından SMS Onay Kodu ile görüntüleme, kaydetme ve silme."),
    ),
    Topic(
        "sertifika-suresi",
        _("Sertifikam ne zaman sona eriyor?"),
        _("Bitiş tarihini nerede görürsünüz, yeni sertifikanızı ne zaman kullanıma açarsınız."),
    ),
    Topic(
        "gonderi-sorgulama",
        _("Gönderi Sorgulama"),
        _("AKİS akıllı kartınızın kuryeyle teslimi ve gönderinizin durumunu öğrenme."),
    ),
    Topic(
        "kart-okuyucu",
        _("AKİS kart okuyucu sürücü kurulumu"),
        _("Çipi karttan çıkarma, kart okuyucuya takma ve sürücüleri kurma."),
    ),
    Topic(
        "kart-servisi",
        _("Akıllı Kart Servisi kurulumu"),
        _("Kartınızla E-İmzalı Giriş için bilgisayarınıza kurulan küçük program; Kart Kontrol."),
    ),
    Topic(
        "askiya-alma-ve-iptal",
        _("Askıya alma ve iptal nedir?"),
        _("Askıya alma geri alınabilir, iptal geri alınamaz: hangisini ne zaman seçmeli?"),
    ),
    Topic(
        "sil-ve-ocsp",
        _("SİL ve OCSP nedir?"),
        _("Sertifikanızın geçerli olup olmadığını başkalarının nasıl öğrendiği, sade bir dille."),
    ),
)

BY_SLUG = {topic.slug: topic for topic in TOPICS}

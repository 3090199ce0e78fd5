"""The citizen-facing pages of accounts (only ``accounts.urls`` imports them):

* ``login`` - Giriş, the SMS Onay Kodu at login, the menu, logout and the lock page;
* ``recovery`` - Güvenlik Sözcüğümü Unuttum and the agent-started reset link;
* ``profile`` - Bilgi Güncelle.
"""

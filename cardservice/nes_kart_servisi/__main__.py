"""``python -m nes_kart_servisi``: the same as the ``nes-kart-servisi`` console script."""

from __future__ import annotations

from nes_kart_servisi.cli import main

raise SystemExit(main())

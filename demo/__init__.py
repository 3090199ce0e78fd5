"""Demo and benchmark data commands; the data itself is built by ``nesportal.demo`` and
``nesportal.scale``."""

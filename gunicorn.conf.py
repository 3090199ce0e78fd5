"""gunicorn settings for NES Portal: ``gunicorn -c gunicorn.conf.py`` (docker-compose's web).

Sizing. Every Şifreli Giriş attempt runs one Argon2id check (``nesportal.hashers``: m=19 MiB,
t=3, p=1): about 30 ms of one core and 19 MiB each (``bench/argon2_check.py`` measures it on
the machine at hand; an unknown ID or a locked account costs the same, on purpose). Until
December 2026 it was Django's default (m=100 MiB, t=2, p=8): ~190 ms of CPU spread over 8
threads and 100 MiB, so 8 checks in flight needed 800 MiB, and a worker peaked at 300 MiB in a
login burst; now ~140 MiB (``bench/logins.py``). The hash no longer dominates a login (the
word step's page, database and SMS queueing cost more), so the work is what any Django page
is: CPU-bound with some waiting on PostgreSQL and Redis. Hence, unchanged: workers = 2 x
cores, at most 4, 2 threads each (argon2-cffi releases the GIL) -> at most 8 requests at once,
about 4 x 140 MiB at peak. The cap of 4 was set for the old 100 MiB checks; with the new cost
memory no longer forces it (4 workers peak at ~560 MiB, was ~1.2 GiB), but it stays until a
host with more than 2 cores has been measured. Raise WEB_CONCURRENCY only together with the
memory limit.

Environment (all optional):
  WEB_CONCURRENCY      workers (default: 2 x CPUs allowed to this container, at most 4)
  GUNICORN_THREADS     threads per worker (default 2)
  GUNICORN_TIMEOUT     seconds before a silent worker is killed and restarted (default 30)
  GUNICORN_BIND        address to listen on (default 0.0.0.0:8000, inside the container)
  GUNICORN_MAX_REQUESTS requests a worker serves before it is replaced (default 50,000)
  FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-Proto gunicorn believes (default 127.0.0.1,::1;
                       ``*`` only when nothing but the TLS proxy can reach this port)
  LOG_LEVEL            the same variable as Django's (default INFO)
"""

import contextlib
import ctypes
import math
import os
from pathlib import Path
from typing import Any


def _cpus() -> int:
    """CPUs this process may use: the cgroup v2 quota if there is one, else the affinity mask."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# glibc's M_MMAP_THRESHOLD (malloc.h). By default glibc raises the threshold to the size of the
# largest block freed so far (up to 32 MiB): after the first Argon2 check, its 19 MiB blocks
# come from the threads' malloc arenas and stay resident when freed, one per arena a thread
# ever used (6 threads checking in a loop kept 156 MiB after their last check; with the fixed
# threshold 14 MiB). A fixed 4 MiB threshold keeps every Argon2 block mmapped, returned to the
# system at once (bench/logins.py: a worker is back at ~101 MiB 1 s after a login burst, OLD
# parameters included); smaller allocations are unchanged.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024


def _fixed_mmap_threshold() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its allocator decides
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def post_fork(server: Any, worker: Any) -> None:
    _fixed_mmap_threshold()


wsgi_app = "nesportal.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]

workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * _cpus(), 4))
threads = int(os.environ.get("GUNICORN_THREADS") or 2)
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory fragmentation after many Argon2 allocations). Not too
# often: a restart costs a second of a core, and at OCSP rates (hundreds of requests/s per
# worker) 2,000 requests meant a restart every few seconds (bench/revocation.py measured it).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 50_000)
max_requests_jitter = max_requests // 10

# Behind the TLS proxy. Note that Django's TRUST_X_FORWARDED_PROTO trusts the header from any
# peer; this setting only decides what gunicorn reports as wsgi.url_scheme.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Heartbeat files in memory (Docker's overlay filesystem can stall them); no control socket
# (gunicorn >= 25.1 would create one under $HOME, which is read-only in docker-compose).
_SHM = "/dev/shm"  # noqa: S108 (gunicorn's documented choice for worker_tmp_dir in containers)
if os.path.isdir(_SHM):
    worker_tmp_dir = _SHM
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Path without the query string (nothing secret goes in URLs, but there is no need to log them),
# status, bytes, duration in ms, user agent. %(h)s is the proxy's address behind a proxy.
# Tokens in link paths (reset and e-mail confirmation links) are masked in the access log.
logger_class = "nesportal.gunicorn_logging.RedactingLogger"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

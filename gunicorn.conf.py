"""gunicorn settings for NES Portal: ``gunicorn -c gunicorn.conf.py`` (docker-compose's web).

Sizing. Every Şifreli Giriş attempt runs one Argon2 check with Django's default parameters:
about 125 ms of CPU and 100 MiB of memory each (``bench/argon2_check.py`` measures it on the
machine at hand; an unknown ID or a locked account costs the same, on purpose). The work is
CPU-bound, so more processes than cores only queue up, and each request in flight may hold
100 MiB. Hence: workers = 2 x cores, at most 4, 2 threads each
(argon2-cffi releases the GIL) -> at most 8 checks at once, about 800 MiB at peak plus ~80 MiB
per worker for Django itself. Raise WEB_CONCURRENCY only together with the memory limit.

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

import math
import os
from pathlib import Path


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

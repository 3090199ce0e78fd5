# NES Portal image: the web (gunicorn) and worker (celery) services of docker-compose.yml.
#   docker build -t nesportal .                         # espeak-ng speaks the audio captcha
#   docker build --build-arg WITH_FLITE=1 -t nesportal . # + flite, its English fallback
FROM python:3.11-slim

# espeak-ng speaks the captcha's audio alternative in Turkish and English (accounts/captcha_audio.py,
# always installed: it is how a citizen who cannot read the image logs in); flite is an optional
# English-only fallback.
ARG WITH_FLITE=0

# PYTHONPATH: import the project from /app, where templates/, static/ and locale/ live next to
# it (they are not part of the installed package, and settings find them via BASE_DIR).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=nesportal.settings \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng \
    && if [ "$WITH_FLITE" = "1" ]; then apt-get install -y --no-install-recommends flite; fi \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user for gunicorn and celery (Celery warns when its worker runs as root).
RUN groupadd --system --gid 10001 nesportal \
    && useradd --system --uid 10001 --gid nesportal --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin nesportal

WORKDIR /app

# Dependencies first, in their own layer: pyproject.toml alone (no packages yet) installs them.
COPY pyproject.toml README.md ./
RUN pip install . && pip uninstall -y nesportal && rm -rf build *.egg-info

COPY . .
RUN pip install --no-deps --force-reinstall . && rm -rf build *.egg-info

# Static files at build time. The settings refuse to start without SECRET_KEY, VAULT_KEYS,
# SMS_BACKEND and EMAIL_URL when DEBUG is off; these throwaway values exist only for this
# command and are not kept.
RUN SECRET_KEY=collectstatic-only-not-a-secret DEBUG=false SMS_BACKEND=twilio EMAIL_URL=dummymail:// \
    VAULT_KEYS=collectstatic-only:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var \
    && chown -R nesportal:nesportal /app/var /app/staticfiles

USER nesportal
EXPOSE 8000

CMD ["gunicorn", "-c", "gunicorn.conf.py"]

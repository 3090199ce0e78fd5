#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nesportal.settings")
    # manage.py is the developer's tool: without DEBUG in the environment it runs the embedded
    # development default. Production commands set DEBUG=false (docker-compose, Dockerfile);
    # gunicorn (wsgi.py) and the celery worker never get this default.
    os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

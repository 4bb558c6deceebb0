"""The Celery app: broker and result backend come from settings (REDIS_URL)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("fieldwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

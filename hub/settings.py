"""Settings come from the environment; with nothing set the hub runs embedded.

Embedded default: SQLite and the Celery filesystem transport in ``var/``, in-process
rate limits, file locks. With ``REDIS_URL`` set, Redis becomes broker, cache, lock and
rate-limit store. See README "Configuration" for every variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HUB_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """Use SECRET_KEY, else a key generated once into var/ (never into the repo)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
# Fernet keys (comma-separated, newest first) for credentials at rest; derived from
# SECRET_KEY when unset. See hub/fields.py.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
HUB_PUBLIC_URL = os.environ.get("HUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "simple_history",
    "hub",
    "connectors",
    "connectors.webhook",
    "connectors.lime",
    "connectors.amocrm",
    "connectors.bitrix24",
    "connectors.samosale",
    "connectors.maxma",
    "connectors.uds",
    "connectors.smsru",
    "connectors.smsc",
    "connectors.greenapi",
    "connectors.wazzup",
    "connectors.telegram",
    "connectors.vk",
    "connectors.email",
    "connectors.tilda",
    "connectors.site",
    "loyalty",
    "bookings",
    "mailings",
    "bots",
    "cabinet",
    "events",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'hub.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let web and one worker share the file without "locked" errors.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Kept open like PostgreSQL's (conn_max_age above): opening one costs more than a webhook's
    # whole work (~2 ms of CPU: the file, the PRAGMAs, Django's SQL functions), and an idle
    # autocommit connection holds no lock. Each gunicorn thread keeps its own.
    # A file, not shared-cache memory: concurrent-worker tests need real SQLite locking.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "hub"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery: Redis when configured, else the filesystem transport under var/.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(BROKER_DIR / "control"),  # else ./control in whatever folder we run from
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # A task unacked for this long is redelivered; must exceed the longest task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep our JSON, PII-masked logging
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "outbox-drain": {"task": "hub.tasks.outbox_drain_task",
                     "schedule": float(os.environ.get("HUB_OUTBOX_DRAIN_EVERY", "5"))},
    "inbox-retry": {"task": "hub.tasks.inbox_retry_task", "schedule": 60.0},
    "connections-pull": {"task": "hub.tasks.connections_pull_due_task", "schedule": 10.0},
    # Daily, in UTC: 00:05 and 09:00 Moscow time (the jobs use the venue's local date).
    "loyalty-expire": {"task": "loyalty.expire", "schedule": crontab(hour=21, minute=5)},
    "loyalty-birthdays": {"task": "loyalty.birthday_bonuses", "schedule": crontab(hour=6, minute=0)},
    "loyalty-reconcile": {"task": "loyalty.reconcile", "schedule": crontab(hour=23, minute=30)},  # 02:30 MSK
    "loyalty-tiers": {"task": "loyalty.tiers_daily", "schedule": crontab(hour=0, minute=30)},  # 03:30 MSK
    "hub-lifecycle": {"task": "hub.lifecycle_daily", "schedule": crontab(hour=1, minute=0)},  # 04:00 MSK
    "hub-history-deduplicate": {"task": "hub.history_deduplicate", "schedule": crontab(hour=1, minute=30)},
    "mailings-triggers": {"task": "mailings.triggers_scan", "schedule": 60.0},
    # campaigns' own schedules are periodic tasks in the database (mailings/services/schedules.py)
}

# Sync engine knobs (see hub/services/outbox.py).
# Event pictures linked from CRM deals may come from private addresses (sandbox, tests only).
HUB_IMAGE_FETCH_PRIVATE = os.environ.get("HUB_IMAGE_FETCH_PRIVATE", "").lower() in ("1", "true", "yes")
HUB_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("HUB_OUTBOX_MAX_ATTEMPTS", "8"))
HUB_OUTBOX_BACKOFF_BASE = float(os.environ.get("HUB_OUTBOX_BACKOFF_BASE", "5"))
HUB_OUTBOX_BACKOFF_CAP = float(os.environ.get("HUB_OUTBOX_BACKOFF_CAP", "3600"))
HUB_OUTBOX_LEASE_SECONDS = int(os.environ.get("HUB_OUTBOX_LEASE_SECONDS", "300"))
HUB_OUTBOX_BATCH = int(os.environ.get("HUB_OUTBOX_BATCH", "50"))
# Chat messages wait this long before going to the CRM timeline, so a burst is one note.
HUB_DIALOG_NOTE_DELAY = float(os.environ.get("HUB_DIALOG_NOTE_DELAY", "30"))
HUB_INBOX_MAX_ATTEMPTS = int(os.environ.get("HUB_INBOX_MAX_ATTEMPTS", "5"))
HUB_DEFAULT_REGION = os.environ.get("HUB_DEFAULT_REGION", "RU")
HUB_LOCK_DIR = VAR_DIR / "locks"
# Checked imports wait here for a worker to apply them: shared storage when web and workers
# run on different machines (docs/operations.md).
HUB_IMPORTS_DIR = Path(os.environ.get("HUB_IMPORTS_DIR") or VAR_DIR / "imports")
# Bearer token for /metrics; empty: only scrapes from this machine are answered.
HUB_METRICS_TOKEN = os.environ.get("HUB_METRICS_TOKEN", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "ru")
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hub client cabinet API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"pii": {"()": "hub.logging.PiiMaskingFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in {"json", "text"} else "json",
            "filters": ["pii"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

SESSION_COOKIE_HTTPONLY = True
# CRM webhooks of bulk edits carry thousands of form fields (amoCRM: 20+ per contact).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100_000
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY") else None

"""Django settings. Everything a deployment changes comes from the environment.

FANGKONG_DATA      folder for the embedded database, keys and exports (default ./var)
DATABASE_URL       postgres://... for production; SQLite in FANGKONG_DATA when unset
FANGKONG_SECRET_KEY, FANGKONG_DEBUG, FANGKONG_ALLOWED_HOSTS
FANGKONG_QUARANTINE_RULES  pin the quarantine rule set (docs/quarantine.md)
FANGKONG_CERT_TRUST  trust files or folders for travellers' certificates (default DATA/cert-trust)
FANGKONG_RESULT_TARGET_HOURS  hours from sampling to a tube's result before it is late (default 12)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("FANGKONG_DATA", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """From the environment, else one generated once and kept in the data folder."""
    if key := os.environ.get("FANGKONG_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("FANGKONG_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("FANGKONG_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "fangkong.geo",
    "fangkong.accounts",
    "fangkong.people",
    "fangkong.venues",
    "fangkong.cases",
    "fangkong.jobs",
    "fangkong.healthcode",
    "fangkong.ingest",
    "fangkong.labs",
    "fangkong.quarantine",
    "fangkong.web",
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
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fangkong.urls"
WSGI_APPLICATION = "fangkong.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fangkong.web.context.navigation",
            ]
        },
    }
]


def _database() -> dict:
    url = os.environ.get("DATABASE_URL")
    if url:
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "fangkong.sqlite3",
        "OPTIONS": {
            # WAL lets pages read while a write is going on; synchronous=FULL makes every
            # acknowledged commit survive a power cut, not only a process crash (SQLite docs,
            # "PRAGMA synchronous"). IMMEDIATE takes the write lock at BEGIN, so two writers
            # queue instead of failing with "database is locked" halfway through.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Keys of the certificate issuers a checkpoint accepts (docs/certs.md, "Trust files"): files or
# folders of X.509 certificates (PEM/DER) and JWKS, separated by os.pathsep. Empty until an
# operator puts the issuers' keys there: shipping test keys as a default would let anyone who
# holds their published private halves pass a forged certificate as valid.
FANGKONG_CERT_TRUST = [
    Path(p)
    for p in os.environ.get("FANGKONG_CERT_TRUST", str(DATA_DIR / "cert-trust")).split(os.pathsep)
    if p
]

# Quarantine rule set (epicore.regimens key, e.g. 2022-06 for "7+3"); empty: the one in force on
# the day of entry. A province that keeps stricter measures pins its own.
FANGKONG_QUARANTINE_RULES = os.environ.get("FANGKONG_QUARANTINE_RULES", "")

# Target hours from sampling to a tube's result; late tubes are flagged (labs/turnaround.py cites
# the national requirements behind its default of 12).
FANGKONG_RESULT_TARGET_HOURS = os.environ.get("FANGKONG_RESULT_TARGET_HOURS", "")

# Page size of every list; lists page by key (keyset), never by offset.
PAGE_SIZE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FANGKONG_LOG_LEVEL", "WARNING")},
}

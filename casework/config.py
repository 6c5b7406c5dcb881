"""Settings, read once from ``CASEWORK_*`` environment variables and checked at start-up.

A bad value stops the app with a message naming the variable, rather than failing later
in the middle of a request.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
# A built wheel carries templates/, static/ and migrations/ inside the package (hatch_build.py);
# a checkout (and an editable install) keeps them at the top of the repository.
_PACKAGED = PACKAGE_DIR / "_resources"
IS_CHECKOUT = not _PACKAGED.is_dir()
PROJECT_ROOT = PACKAGE_DIR.parent
RESOURCE_ROOT = PROJECT_ROOT if IS_CHECKOUT else _PACKAGED
TEMPLATES_DIR = RESOURCE_ROOT / "templates"
STATIC_DIR = RESOURCE_ROOT / "static"
MIGRATIONS_DIR = RESOURCE_ROOT / "migrations"
# Import files to try (the demo names them).
EXAMPLES_DIR = PROJECT_ROOT / "docs" / "examples" if IS_CHECKOUT else _PACKAGED / "examples"


def default_instance_path() -> Path:
    """``instance/`` in a checkout; a per-user data folder for an installed package, which
    is never written to at run time (``$XDG_DATA_HOME/casework``, ``~/.local/share/casework``)."""
    if IS_CHECKOUT:
        return PROJECT_ROOT / "instance"
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "casework"


DEFAULT_INSTANCE_PATH = default_instance_path()
INSECURE_SECRET_KEY = "dev-insecure-secret-key"  # noqa: S105 - marker value, refused in production
ENVIRONMENTS = ("development", "production", "test")
# werkzeug's scrypt at its own cost (N=2^15, r=8, p=1): about 100 ms a hash on this 2-core machine.
DEFAULT_PASSWORD_HASH = "scrypt:32768:8:1"  # noqa: S105 - a method, not a password
_SCRYPT_RE = re.compile(r"scrypt:(\d+):(\d+):(\d+)")
LOG_FORMATS = ("text", "json")
# English is the source language; every folder under casework/translations adds a language.
LOCALES = (
    *sorted(
        p.name for p in (PACKAGE_DIR / "translations").glob("*") if (p / "LC_MESSAGES").is_dir()
    ),
    "en",
)


MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128


def estimated_entropy_bits(text: str) -> float:
    """Shannon entropy of the text's own characters times its length: a cheap upper estimate
    (``aaaa…`` has 0 bits, ``secrets.token_urlsafe(32)`` about 200); a string that is one block
    repeated counts as that block alone."""
    length = len(text)
    period = next((n for n in range(1, length) if text == (text[:n] * length)[:length]), length)
    block = text[:period]
    counts = Counter(block)
    return -sum(c * math.log2(c / len(block)) for c in counts.values())


def is_random_enough(secret: str) -> bool:
    """A production secret signs sessions and tokens: length alone lets ``aaaa…`` through."""
    return (
        secret != INSECURE_SECRET_KEY
        and len(secret) >= MIN_SECRET_LENGTH
        and estimated_entropy_bits(secret) >= MIN_SECRET_BITS
    )


class ConfigError(ValueError):
    """A setting has a value the app cannot start with."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str = INSECURE_SECRET_KEY
    # The master key that wraps each household's audit key (casework.audit.keys): a Fernet
    # key (python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())').
    # Empty: derived from the secret key, so changing that key then loses the audit trail's
    # personal fields; set it apart in production and keep it beside the database's backups.
    audit_key: str = ""
    database_url: str = ""
    instance_path: Path = DEFAULT_INSTANCE_PATH
    default_locale: str = "mk"
    default_timezone: str = "Europe/Skopje"
    page_size: int = 25
    sqlite_busy_timeout_ms: int = 5000
    max_content_length: int = 10 * 1024 * 1024
    # An import file above this is refused with a message (below the request limit above).
    import_max_bytes: int = 5_000_000
    import_max_rows: int = 20_000
    # smtp://user:password@host:587 (STARTTLS when offered) or smtps://host:465; empty: mail
    # stays in the outbox, where admins can read it.
    smtp_url: str = ""
    mail_from: str = "casework@localhost"
    # Sessions end after this long without a request, and this long after logging in at most.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # Approving payments and exporting personal data ask for the password again after this.
    reauth_minutes: int = 15
    # Failed logins within this window lock an account name (and, more loosely, an address).
    login_window_minutes: int = 15
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 30
    # Reverse proxies in front of the app (0: none): their X-Forwarded-For is trusted this deep.
    trusted_proxies: int = 0
    # Requests per API token's user per minute, counted in the database across workers.
    api_requests_per_minute: int = 120
    # How passwords are hashed: scrypt:N:r:p. Test runs use a cheap N; production refuses it.
    password_hash: str = DEFAULT_PASSWORD_HASH
    # One line per request and per background job, as text or as JSON (for a log collector).
    log_format: str = "text"
    # /readyz fails unless these background processes beat recently (set where they run).
    expect_scheduler: bool = False
    expect_worker: bool = False
    # Uploads larger than this are checked and imported by the worker, with a progress bar.
    import_inline_max_bytes: int = 50_000
    # A job running longer than this is taken as lost with its worker (its work rolled back).
    job_timeout_minutes: int = 120
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_postgresql(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.instance_path / 'casework.sqlite'}"

    def validate(self) -> Settings:
        """Refuse values the app cannot run with; return self so calls chain. The checks run
        in this order, and the first that fails names its variable."""
        self._check_env_and_secret()
        self._check_urls_and_locale()
        self._check_password_hash()
        self._check_output()
        return self

    def _check_env_and_secret(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise ConfigError(
                f"CASEWORK_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}"
            )
        if self.is_production and not is_random_enough(self.secret_key):
            raise ConfigError(
                "CASEWORK_SECRET_KEY must be set to a random value in production: at least "
                f"{MIN_SECRET_LENGTH} characters and about {MIN_SECRET_BITS} bits of entropy, not "
                "a word, a repeated character or a pattern (for example: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.audit_key:
            try:
                ok = len(base64.urlsafe_b64decode(self.audit_key.encode("ascii"))) == 32
            except (ValueError, UnicodeEncodeError):
                ok = False
            if not ok:
                raise ConfigError(
                    "CASEWORK_AUDIT_KEY must be a Fernet key: 32 bytes in URL-safe base64 "
                    "(python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                )

    def _check_urls_and_locale(self) -> None:
        if self.database_url and not self.database_url.startswith(
            ("sqlite:", "postgresql:", "postgresql+psycopg:")
        ):
            raise ConfigError(
                "CASEWORK_DATABASE_URL must start with sqlite:/// or postgresql+psycopg://, "
                f"not {self.database_url.split(':', 1)[0]!r}"
            )
        if self.default_locale not in LOCALES:
            raise ConfigError(
                f"CASEWORK_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}, "
                f"not {self.default_locale!r}"
            )
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise ConfigError("CASEWORK_SMTP_URL must start with smtp:// or smtps://")

    def _check_password_hash(self) -> None:
        scrypt = _SCRYPT_RE.fullmatch(self.password_hash)
        cost = int(scrypt.group(1)) if scrypt is not None else 0
        if cost < 2 or cost & (cost - 1):
            raise ConfigError(
                "CASEWORK_PASSWORD_HASH must be scrypt:N:r:p with N a power of two from 256, "
                f"for example {DEFAULT_PASSWORD_HASH}"
            )
        if self.is_production and cost < 32768:
            raise ConfigError(
                f"CASEWORK_PASSWORD_HASH is too cheap for production: use N of at least 32768 "
                f"({DEFAULT_PASSWORD_HASH})"
            )

    def _check_output(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"CASEWORK_LOG_FORMAT must be text or json, not {self.log_format!r}")
        if not 1 <= self.page_size <= 500:
            raise ConfigError("CASEWORK_PAGE_SIZE must be between 1 and 500")


def _to_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None


def _to_bool(name: str, raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0 (true or false), not {raw!r}")


def from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from ``CASEWORK_*`` variables; keyword overrides win (tests use them)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        name = f"CASEWORK_{f.name.upper()}"
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        if f.type == "int":
            values[f.name] = _to_int(name, raw)
        elif f.type == "bool":
            values[f.name] = _to_bool(name, raw)
        elif f.type == "Path":
            values[f.name] = Path(raw)
        else:
            values[f.name] = raw
    if values.get("database_url", "").startswith("postgresql://"):
        values["database_url"] = "postgresql+psycopg://" + values["database_url"].removeprefix(
            "postgresql://"
        )
    settings = replace(Settings(), **values)
    if overrides:
        settings = replace(settings, **overrides)
    return settings.validate()

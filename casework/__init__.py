"""casework: a case manager for municipal responsible social support programmes."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from casework.config import MIGRATIONS_DIR, STATIC_DIR, TEMPLATES_DIR, Settings, from_env

# A server that does not answer fails in 5 s (a 503), not after minutes.
POSTGRESQL_CONNECT_ARGS = {"connect_timeout": 5}


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app. ``settings`` default to the ``CASEWORK_*`` environment variables."""
    from casework import logs, models, web  # noqa: F401  (models: every table known to migrations)
    from casework.bounds import IdConverter
    from casework.db import configure_sqlite
    from casework.error_handlers import register_error_handlers
    from casework.extensions import babel, csrf, db, login_manager, migrate
    from casework.i18n import translations_directory

    settings = settings or from_env(**overrides)
    if settings.env != "test":  # under pytest the test runner's own capture keeps the logs
        logs.configure(settings.log_format)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app = Flask(
        __name__,
        instance_path=str(settings.instance_path.resolve()),
        template_folder=str(TEMPLATES_DIR),
        static_folder=str(STATIC_DIR),
    )
    # Before any route is added: every <int:...> id is bounded by its column's range.
    app.url_map.converters["int"] = IdConverter
    app.config.update(
        CASEWORK=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.sqlalchemy_url,
        # hide_parameters: the values bound to a statement (names, national IDs) never appear
        # in an error's message or in an echoed statement, whoever logs them.
        # pool_pre_ping: a connection that died with a database restart is replaced before use,
        # so the app recovers by itself.
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "hide_parameters": True,
            **({"connect_args": POSTGRESQL_CONNECT_ARGS} if settings.is_postgresql else {}),
        },
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_SECURE=settings.is_production,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.default_timezone,
        BABEL_TRANSLATION_DIRECTORIES=str(translations_directory()),
        TESTING=settings.env == "test",
    )

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, settings.sqlite_busy_timeout_ms)
    migrate.init_app(
        app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True, compare_type=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    register_error_handlers(app)
    logs.init_app(app)
    web.init_app(app)
    if settings.trusted_proxies:
        # Behind a reverse proxy the client's address is in X-Forwarded-For: the log-in
        # throttle counts by it. Trust exactly as many hops as there are proxies.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    return app

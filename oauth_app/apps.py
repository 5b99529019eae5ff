from django.apps import AppConfig


class OauthAppConfig(AppConfig):
    name = "oauth_app"
    verbose_name = "OAuth authorization server"

    def ready(self):
        from common.errors import register_retry_format

        from . import signals  # noqa: F401  keeps the token cache in step with the database
        from .ratelimit import OAUTH_PATHS, oauth_retry_later

        for prefix in OAUTH_PATHS:
            register_retry_format(prefix, oauth_retry_later)

from django.apps import AppConfig


class OauthAppConfig(AppConfig):
    name = "oauth_app"
    verbose_name = "OAuth authorization server"

    def ready(self):
        from . import signals  # noqa: F401  keeps the token cache in step with the database

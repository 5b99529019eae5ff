"""What Django's error reports (the DEBUG page, error e-mails) may show."""

import re

from django.views.debug import SafeExceptionReporterFilter


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    """Also hides every setting and request variable naming a URL, DSN or cache location: DATABASE_URL,
    REDIS_URL and CACHES' LOCATION carry passwords (and under runserver the environment is in request.META)."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN|LOCATION", flags=re.IGNORECASE
    )

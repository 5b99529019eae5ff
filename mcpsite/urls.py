from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mcpsite.health import health
from mcpsite.metrics import metrics

urlpatterns = [
    path("", include("mcp_app.urls")),  # first: URLs are matched in order, and /mcp is the hot path
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("oauth_app.sso.urls")),  # before Django's: its login page wins
    path("accounts/", include("django.contrib.auth.urls")),
    path("docs/schema", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="docs"),
    path("", include("oauth_app.urls")),
]

from django.urls import path

from mcp_app.views import McpView

# Exactly /mcp: APPEND_SLASH is off, so /mcp/ is a 404, never a redirect that drops Authorization.
urlpatterns = [path("mcp", McpView.as_view(), name="mcp")]

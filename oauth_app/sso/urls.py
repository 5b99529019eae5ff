"""Routes under /accounts/: the login page (Django's, plus the IdP button) and the OpenID Connect sign-in."""

from django.urls import path

from oauth_app.sso import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("oidc/login/", views.start, name="oidc-start"),
    path("oidc/callback/", views.callback, name="oidc-callback"),
    path("oidc/cancel/", views.CancelView.as_view(), name="oidc-cancel"),
    path("oidc/backchannel-logout/", views.backchannel_logout, name="oidc-backchannel-logout"),
]

"""The seam to django-oauth-toolkit: every private or undocumented DOT 3.4 hook we rely on, named here only.

The rest of oauth_app uses the public names this module gives them: no other module calls or overrides
a `_`-prefixed DOT method or imports an internal DOT function. `HOOKS` lists each one with the parameters
we pass and, for the methods we replace, the DOT method that must still call them; tests/oauth/
test_dot_seam.py checks every entry against the installed DOT, so an upgrade that renames, drops or stops
calling a hook fails naming it, instead of silently bypassing one of our rules.
"""

from dataclasses import dataclass

from oauth2_provider import cimd
from oauth2_provider import models as dot_models
from oauth2_provider import oauth2_backends, utils
from oauth2_provider.cimd import SafeMetadataFetcher
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views.base import AuthorizationView


@dataclass(frozen=True)
class Hook:
    owner: object  # the DOT class or module that defines it
    name: str
    parameters: tuple[str, ...]  # the leading parameters we pass (after self), by name
    called_by: str = ""  # for a hook we replace: the DOT method of `owner` that must keep calling it


HOOKS = (
    # Called by us.
    Hook(OAuth2Validator, "_extract_basic_auth", ("request",)),
    Hook(OAuth2Validator, "_authenticate_basic_auth", ("request",)),
    Hook(OAuth2Validator, "_authenticate_request_body", ("request",)),
    Hook(OAuth2Validator, "_load_application", ("client_id", "request")),
    Hook(OAuth2Validator, "_create_access_token", ("expires", "request", "token", "source_refresh_token")),
    Hook(OAuth2Validator, "_create_refresh_token",
         ("request", "refresh_token_code", "access_token", "previous_refresh_token")),
    Hook(oauth2_backends.OAuthLibCore, "extract_body", ("request",)),
    Hook(oauth2_backends.OAuthLibCore, "extract_headers", ("request",)),
    Hook(oauth2_backends, "_add_iss_to_redirect", ("uri", "issuer")),
    Hook(dot_models, "refresh_token_expire_timedelta", ()),
    Hook(dot_models.AbstractRefreshToken, "revoke_family", ("token_family",)),
    Hook(utils, "parse_bearer_token", ("auth_header",)),
    # Replaced by us: DOT calls them, we answer.
    Hook(OAuth2Validator, "_create_authorization_code", ("request", "code", "expires"), "save_authorization_code"),
    Hook(OAuth2Validator, "_save_bearer_token", ("token", "request"), "save_bearer_token"),
    Hook(SafeMetadataFetcher, "_read_document", ("response",), "fetch"),
    # Module function, replaced at start-up (oauth_app.apps): DOT 3.4 refuses CIMD documents declaring
    # private_key_jwt; oauth_app.client_assertions.cimd_application_kwargs accepts them.
    Hook(cimd, "_build_application_kwargs", ("metadata",), "_fetch_validate_upsert"),
    Hook(AuthorizationView, "redirect", ("redirect_to", "application")),  # overridden in views/authorization.py
)

add_iss_to_redirect = oauth2_backends._add_iss_to_redirect
refresh_token_expire_timedelta = dot_models.refresh_token_expire_timedelta
parse_bearer_token = utils.parse_bearer_token
cimd_application_kwargs = cimd._build_application_kwargs  # DOT's own, before replace_cimd_application_kwargs


def replace_cimd_application_kwargs(function) -> None:
    """Have DOT's CIMD resolver build a document's Application fields with `function(metadata)`."""
    cimd._build_application_kwargs = function


class ValidatorSeam(OAuth2Validator):
    """OAuth2Validator with public names for the private methods we call, and the private methods DOT
    calls routed to public ones that oauth_app.validators.Validator overrides."""

    # --- DOT's, called by us ---
    def basic_auth_credentials(self, request):
        return self._extract_basic_auth(request)

    def authenticate_with_basic(self, request) -> bool:
        return self._authenticate_basic_auth(request)

    def authenticate_with_body(self, request) -> bool:
        return self._authenticate_request_body(request)

    def load_client(self, client_id, request):
        return self._load_application(client_id, request)

    def new_access_token(self, expires, request, token, source_refresh_token=None):
        return self._create_access_token(expires, request, token, source_refresh_token=source_refresh_token)

    def new_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        return self._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)

    def store_authorization_code(self, request, code, expires=None):
        return super()._create_authorization_code(request, code, expires)

    # --- Called by DOT, answered by the public methods below ---
    def _create_authorization_code(self, request, code, expires=None):
        return self.store_authorization_code(request, code, expires)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        return self.store_tokens(token, request)

    def store_tokens(self, token, request):
        return super()._save_bearer_token(token, request)


class MetadataFetcherSeam(SafeMetadataFetcher):
    """DOT's Client ID Metadata Document fetcher with its document parser under a public name."""

    def _read_document(self, response):
        return self.read_document(response)

    def read_document(self, response):
        return super()._read_document(response)


"""Walk a live deployment through the whole client flow and say, step by step, what works.

    manage.py mcp_selftest https://mcp.example.com/mcp --dcr-token … [--username … --password …]

Without credentials it prints the authorization URL for a person to open and waits for the URL the
browser was sent to afterwards. Exit status 0 only if every step passed.
"""

import secrets
import sys

import requests
from django.core.management.base import BaseCommand, CommandError

from mcp_client import FlowError, McpOAuthClient, log_in_and_consent, tool_text

DEFAULT_REDIRECT_URI = "http://127.0.0.1:33418/callback"


class Command(BaseCommand):
    help = "Run the OAuth + MCP flow against a deployment's /mcp URL and report each step."
    requires_system_checks = []  # a client of any deployment: this host's settings do not matter

    def add_arguments(self, parser):
        parser.add_argument("url", help="the MCP endpoint, e.g. https://mcp.example.com/mcp")
        parser.add_argument("--dcr-token", required=True, help="an initial access token for /oauth/register")
        parser.add_argument("--username", help="a test account: log in headlessly instead of asking a person")
        parser.add_argument("--password")
        parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI,
                            help=f"redirect URI to register (default {DEFAULT_REDIRECT_URI})")
        parser.add_argument("--timeout", type=float, default=15.0, help="seconds per HTTP request")

    def handle(self, *args, **options):
        if bool(options["username"]) != bool(options["password"]):
            raise CommandError("--username and --password go together")
        self.options = options
        self.client = McpOAuthClient(options["url"], timeout=options["timeout"])
        steps = [
            ("metadata", self.step_metadata),
            ("registration", self.step_registration),
            ("authorization", self.step_authorization),
            ("token", self.step_token),
            ("tools/list", self.step_tools_list),
            ("tools/call echo", self.step_tools_call),
            ("refresh", self.step_refresh),
            ("revocation", self.step_revocation),
            ("revoked token refused", self.step_revoked_token_refused),
        ]
        results = []
        for number, (name, step) in enumerate(steps, 1):
            label = f"[{number}/{len(steps)}] {name}"
            if results and results[-1] != "PASS":
                # Every step needs what the one before produced.
                results.append("SKIP")
                self.stdout.write(f"{label}: SKIP")
                continue
            try:
                detail = step()
            except (FlowError, requests.RequestException, KeyError, ValueError) as error:
                results.append("FAIL")
                self.stdout.write(self.style.ERROR(f"{label}: FAIL  {type(error).__name__}: {error}"))
            else:
                results.append("PASS")
                self.stdout.write(self.style.SUCCESS(f"{label}: PASS") + f"  {detail}")
        passed = results.count("PASS")
        summary = (f"Summary: {passed}/{len(steps)} passed, {results.count('FAIL')} failed, "
                   f"{results.count('SKIP')} skipped")
        if passed != len(steps):
            self.stdout.write(self.style.ERROR(summary))
            raise CommandError("the deployment did not pass every step", returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))

    def step_metadata(self):
        metadata = self.client.discover()
        return (f"401 -> {metadata.resource_metadata_url} -> issuer {metadata.issuer}, "
                f"scope {metadata.scope!r}")

    def step_registration(self):
        client = self.client.register(redirect_uri=self.options["redirect_uri"],
                                      initial_access_token=self.options["dcr_token"])
        return f"client_id {client.client_id} (public, PKCE), redirect {client.redirect_uri}"

    def step_authorization(self):
        self.request = self.client.authorization_request()
        if self.options["username"]:
            redirect = log_in_and_consent(self.request.url, self.request.redirect_uri, self.options["username"],
                                          self.options["password"], timeout=self.options["timeout"])
        else:
            redirect = self.ask_a_person(self.request.url)
        self.code = self.client.authorization_code(self.request, redirect)
        return "code received, state and iss match"

    def ask_a_person(self, url):
        self.stdout.write("Open this URL in a browser, sign in and approve:\n\n" f"  {url}\n\n"
                          "Then paste here the URL the browser was sent to (the page itself may fail to load):")
        self.stdout.flush()
        line = sys.stdin.readline().strip()
        if not line:
            raise FlowError("no redirected URL was pasted")
        return line

    def step_token(self):
        tokens = self.client.exchange_code(self.request, self.code)
        if not tokens.refresh_token:
            raise FlowError("no refresh token issued")
        return f"bearer token, expires in {tokens.expires_in} s, scope {tokens.scope!r}"

    def step_tools_list(self):
        info = self.client.initialize()
        names = [tool["name"] for tool in self.client.list_tools()]
        if "echo" not in names:
            raise FlowError(f"no echo tool in {names}")
        return f"protocol {info.get('protocolVersion')}, {len(names)} tools: {', '.join(names)}"

    def step_tools_call(self):
        message = f"selftest {secrets.token_hex(4)}"
        result = self.client.call_tool("echo", {"message": message})
        if result.get("isError") or tool_text(result) != f"Echo: {message}":
            raise FlowError(f"unexpected result {result}")
        return repr(tool_text(result))

    def step_refresh(self):
        old = self.client.tokens
        new = self.client.refresh()
        if new.refresh_token in (None, old.refresh_token):
            raise FlowError("the refresh token did not rotate")
        self.client.list_tools()
        return "new access token works, refresh token rotated"

    def step_revocation(self):
        tokens = self.client.tokens
        self.client.revoke(tokens.access_token, "access_token")
        self.client.revoke(tokens.refresh_token, "refresh_token")
        return "access and refresh token revoked (RFC 7009)"

    def step_revoked_token_refused(self):
        response = self.client.post_mcp(self.client.message("tools/list"))
        if response.status_code != 401 or "invalid_token" not in response.headers.get("WWW-Authenticate", ""):
            raise FlowError(f"/mcp answered {response.status_code} to the revoked access token")
        refused = self.client.post_token({"grant_type": "refresh_token",
                                          "refresh_token": self.client.tokens.refresh_token})
        if refused.status_code != 400 or refused.json().get("error") != "invalid_grant":
            raise FlowError(f"the revoked refresh token got {refused.status_code} {refused.text[:200]}")
        return "/mcp 401 invalid_token, refresh 400 invalid_grant"

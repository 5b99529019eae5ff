"""A headless browser for the login and consent pages: plays the person who signs in and consents."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

from mcp_client.errors import FlowError
from mcp_client.oauth import DEFAULT_TIMEOUT, redirect_target

MAX_BROWSER_HOPS = 10


class _FormParser(HTMLParser):
    """Collects the forms of a page: action, method, and every named control with its value."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "method": attrs.get("method", "get").lower(),
                               "fields": [], "submits": []})
        elif tag in ("input", "button") and self.forms:
            kind = attrs.get("type", "submit" if tag == "button" else "text").lower()
            control = (attrs.get("name", ""), attrs.get("value", ""))
            if kind == "submit":
                self.forms[-1]["submits"].append(control)
            elif kind not in ("checkbox", "radio") or "checked" in attrs:
                self.forms[-1]["fields"].append((kind, *control))


def _page_form(html: str) -> dict | None:
    parser = _FormParser()
    parser.feed(html)
    posts = [form for form in parser.forms if form["method"] == "post"]
    return posts[0] if posts else None


def log_in_and_consent(authorization_url: str, redirect_uri: str, username: str, password: str, *,
                       approve: bool = True, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Plays the person at the browser: opens the authorization URL, signs in on the login form,
    answers the consent form, and returns the URL the server redirects to (never opening it)."""
    browser = requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=timeout)
    signed_in = False
    for _ in range(MAX_BROWSER_HOPS):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if redirect_target(location, redirect_uri):
                return location
            response = browser.get(location, allow_redirects=False, timeout=timeout)
            continue
        form = _page_form(response.text) if response.status_code == 200 else None
        if form is None:
            raise FlowError(f"{response.url} answered {response.status_code} without a form to submit: "
                            f"{response.text[:300]!r}")
        data = {name: value for kind, name, value in form["fields"] if name}
        if any(kind == "password" for kind, _, _ in form["fields"]):
            if signed_in:
                raise FlowError("the login form came back: wrong username or password?")
            data.update(username=username, password=password)
            signed_in = True
        else:
            data.update(_consent_choice(form, approve))
        page = response.url
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(page))
        # Django's CSRF check on https compares Origin/Referer with the host, as a browser sends them.
        response = browser.post(urljoin(page, form["action"] or page), data=data, allow_redirects=False,
                                headers={"Referer": page, "Origin": origin}, timeout=timeout)
    raise FlowError(f"no redirect to {redirect_uri} after {MAX_BROWSER_HOPS} pages")


def _consent_choice(form: dict, approve: bool) -> dict:
    """The submit control that allows (or cancels): DOT's consent form posts `allow` to approve."""
    allow = [(name, value) for name, value in form["submits"] if name == "allow"
             or value.lower() in ("allow", "authorize", "approve")]
    if approve:
        if not allow:
            raise FlowError(f"the consent form has no allow button: {form['submits']}")
        name, value = allow[0]
        return {name or "allow": value}
    return {}  # without `allow` the consent is refused

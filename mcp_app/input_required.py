"""2026-07-28 multi round-trip requests (SEP-2322): a call that needs the client's input answers with an
`input_required` result, and the client retries the same request with the answers.

A function asks through its `Context` exactly as on the older versions (`ctx.elicit`, `ctx.sample`,
`ctx.list_roots`, or several at once with `ctx.request_inputs`). On a 2026-07-28 request the Context's
outbox is an `InputRequestsOutbox`: an answer the retry carries (in `inputResponses`, or from an earlier
round in `requestState`) is returned at once; a question without an answer stops the call with
`InputRequired`, which `Call.run` answers as

    {"resultType": "input_required", "inputRequests": {key: {"method": …, "params": …}}, "requestState": "…"}

The function runs again from the start on each retry (so it must ask the same questions in the same
order, as a deterministic function does), and each round's answers travel in `requestState`: a
string signed with the deployment's SECRET_KEY, bound to the client, user, method, target and
arguments, and valid for REQUEST_STATE_MAX_AGE. Nothing is stored on the server, so any worker on any
host answers any round. A tampered, expired or foreign state is refused with -32602.

A question whose capability the client did not declare in `_meta` is refused with -32021 (HTTP 400),
naming the capability; no JSON-RPC request is ever written on a 2026-07-28 response stream.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core import signing

from mcp_app.jsonrpc import INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY, JsonRpcError

# How long a client may take to answer (a person fills in an elicitation form meanwhile).
REQUEST_STATE_MAX_AGE = 3600
SIGNING_SALT = "mcp_app.input_required.request_state"
# The client capability each server-to-client request needs.
REQUIRED_CAPABILITY = {
    "elicitation/create": "elicitation",
    "sampling/createMessage": "sampling",
    "roots/list": "roots",
}
INPUT_REQUIRED = "input_required"


class InputRequired(Exception):
    """The call cannot finish without the client's answers: its result is `self.result`."""

    def __init__(self, result: dict):
        super().__init__("input required")
        self.result = result


class MissingClientCapability(JsonRpcError):
    def __init__(self, capability: str, method: str, request_id):
        super().__init__(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            f"Missing required client capability: {method} needs the client capability '{capability}', which "
            "this request's _meta does not declare",
            {"requiredCapabilities": {capability: {}}},
            id=request_id,
        )


def binding(owner: str, method: str, params: dict) -> str:
    """What a requestState belongs to: who asked, which request, with which arguments."""
    target = params.get("name", params.get("uri"))
    arguments = json.dumps(params.get("arguments") or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(json.dumps([owner, method, target, arguments]).encode()).hexdigest()


def sign_state(bound_to: str, answers: dict) -> str:
    return signing.dumps({"b": bound_to, "a": answers}, salt=SIGNING_SALT, compress=True)


def verify_state(value: Any, bound_to: str, request_id) -> dict:
    """The answers an earlier round's requestState carries (-32602 when it is not one we issued for this)."""
    if not isinstance(value, str):
        raise JsonRpcError(INVALID_PARAMS, 'Invalid params: "requestState" must be a string', id=request_id)
    try:
        state = signing.loads(value, salt=SIGNING_SALT, max_age=REQUEST_STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: requestState has expired; call again without it",
                           id=request_id) from None
    except signing.BadSignature:
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: requestState failed its integrity check",
                           id=request_id) from None
    if not isinstance(state, dict) or state.get("b") != bound_to or not isinstance(state.get("a"), dict):
        raise JsonRpcError(INVALID_PARAMS, "Invalid params: requestState belongs to another request",
                           id=request_id)
    return state["a"]


def input_responses(params: dict, request_id) -> dict:
    """The retry's `inputResponses`: an object whose values are the client's result objects."""
    if "inputResponses" not in params:
        return {}
    responses = params["inputResponses"]
    if not isinstance(responses, dict):
        raise JsonRpcError(INVALID_PARAMS, 'Invalid params: "inputResponses" must be an object', id=request_id)
    for key, response in responses.items():
        if not isinstance(response, dict):
            raise JsonRpcError(INVALID_PARAMS, f'Invalid params: inputResponses["{key}"] must be the result '
                               "object of the request it answers", id=request_id)
    return responses


class InputRequestsOutbox:
    """The outbox of a 2026-07-28 call: notifications go on (to the event stream when there is one);
    requests are answered from the retry's answers, or stop the call with `InputRequired`."""

    keyed = True  # Context passes each request's key

    def __init__(self, inner, *, params: dict, owner: str, method: str, capabilities: dict, request_id):
        self.inner = inner
        self.capabilities = capabilities
        self.request_id = request_id
        self.bound_to = binding(owner, method, params)
        self.resumed = "requestState" in params
        earlier = verify_state(params["requestState"], self.bound_to, request_id) if self.resumed else {}
        self.answers = {**earlier, **input_responses(params, request_id)}
        self.used: dict[str, dict] = {}  # the answers this run consumed: the next round's state
        self.asked = 0

    def notify(self, method: str, params: dict) -> None:
        self.inner.notify(method, params)

    def request(self, method: str, params: dict, timeout: float | None = None, *, key: str | None = None) -> dict:
        if key is None:
            self.asked += 1
            key = f"{REQUIRED_CAPABILITY.get(method, 'input')}-{self.asked}"
        return self.request_many({key: (method, params)})[key]

    def request_many(self, requests: dict[str, tuple[str, dict]]) -> dict[str, dict]:
        for method, _params in requests.values():
            capability = REQUIRED_CAPABILITY.get(method)
            if capability is None:
                raise ValueError(f"{method} cannot be asked of a client")
            if capability not in self.capabilities:
                raise MissingClientCapability(capability, method, self.request_id)
        answers = {key: self.answers[key] for key in requests if key in self.answers}
        self.used.update(answers)
        missing = {key: {"method": method, "params": params}
                   for key, (method, params) in requests.items() if key not in answers}
        if missing:  # the answers given so far ride along, so the client sends only what is missing
            raise InputRequired({"resultType": INPUT_REQUIRED, "inputRequests": missing,
                                 "requestState": sign_state(self.bound_to, self.used)})
        return answers

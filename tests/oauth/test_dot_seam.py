"""The django-oauth-toolkit seam (oauth_app/dot_seam.py) holds against the installed DOT: every private or
undocumented hook we rely on exists, takes the parameters we pass, and the ones we replace are still called
by DOT. A failure names the hook, so an upgrade that renames one is caught here and not in production."""

import ast
import inspect
from pathlib import Path

import pytest

from oauth_app import dot_seam
from oauth_app.validators import Validator

OAUTH_APP = Path(dot_seam.__file__).parent


def hook_id(hook) -> str:
    return f"{getattr(hook.owner, '__name__', hook.owner)}.{hook.name}"


@pytest.mark.parametrize("hook", dot_seam.HOOKS, ids=hook_id)
def test_every_dot_hook_exists_with_the_parameters_we_pass(hook):
    target = getattr(hook.owner, hook.name, None)
    assert callable(target), f"django-oauth-toolkit no longer has {hook_id(hook)}: update oauth_app/dot_seam.py"
    parameters = [name for name in inspect.signature(target).parameters if name not in ("self", "cls")]
    assert parameters[:len(hook.parameters)] == list(hook.parameters), (
        f"{hook_id(hook)} now takes {parameters}, we pass {list(hook.parameters)}: update oauth_app/dot_seam.py"
    )


@pytest.mark.parametrize("hook", [hook for hook in dot_seam.HOOKS if hook.called_by], ids=hook_id)
def test_every_dot_hook_we_replace_is_still_called_by_dot(hook):
    caller = getattr(hook.owner, hook.called_by)
    call = f"{hook.name}(" if inspect.ismodule(hook.owner) else f"self.{hook.name}("
    assert call in inspect.getsource(caller), (
        f"{hook_id(hook)} is no longer called by {hook.called_by}: our replacement would be bypassed"
    )


def test_our_validator_shadows_no_private_dot_method_outside_the_seam():
    """A DOT upgrade that adds a private method of the same name as one of ours must not be overridden
    by accident: the only DOT privates we override are the seam's."""
    ours = {name for name in vars(Validator) if name.startswith("_") and not name.startswith("__")}
    dot_private = {name for name in dir(dot_seam.OAuth2Validator) if name.startswith("_")}
    assert ours & dot_private == set()


def imported_private_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("oauth2_provider"):
            found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_")]
            if node.module.split(".")[-1] in ("oauth2_backends", "utils"):
                found += [f"{node.module}.{alias.name}" for alias in node.names]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", "") == "super" and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            found.append(f"super().{node.attr}")
    return found


def test_no_module_but_the_seam_reaches_into_dot_internals():
    offenders = {
        str(path.relative_to(OAUTH_APP)): names
        for path in OAUTH_APP.rglob("*.py")
        if path.name != "dot_seam.py" and "migrations" not in path.parts
        for names in [imported_private_names(path)] if names
    }
    assert offenders == {}

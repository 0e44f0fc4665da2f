"""Cheaper versions of Rasa internals, installed once when a Rasa server starts.

Rasa 3.6's ``RemoteAction._validate_action_result`` checks every action-server
response with ``jsonschema.validate(response, action_response_format_spec())``. That
call rebuilds the schema, checks the schema itself against its meta-schema and builds
a new validator on every response: about 28 % of a Rasa process under load (issue 15).

``install()`` replaces that method with one that asks a validator compiled once per
schema (same validator class, same schema: the same checks) whether the response is
valid. A valid response is accepted at once; an invalid one is handed to Rasa's own
method, which raises exactly the error Rasa always raised (its best match, with its
text and link). Invalid responses are rare, so their cost does not matter.

``scripts/rasa_run.py`` installs it before Rasa's main; ``bench/validator.py`` measures it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

# Marks our replacement, so that a second install() changes nothing.
_PATCH_MARK = "__noor_compiled_validator__"
# Names Rasa 3.6's method uses: it calls jsonschema's validate on the response spec.
# Should a Rasa upgrade check responses differently, the patch would silently skip
# the new checks, so install() refuses instead.
_EXPECTED_NAMES = frozenset({"validate", "action_response_format_spec"})


class RasaShapeError(RuntimeError):
    """Rasa's code is not what a patch in this module was written for."""


@functools.cache
def compiled_validator(schema_spec: Callable[[], Dict[str, Any]]) -> Validator:
    """The validator of ``schema_spec()``'s schema, built and checked once.

    Args:
        schema_spec: a function returning a JSON schema, e.g.
            ``RemoteAction.action_response_format_spec``; the cache key, so a subclass
            that overrides the spec gets a validator of its own.

    Returns:
        An instance of the class ``jsonschema.validate`` would pick for the schema
        (the latest draft when the schema names none), without a format checker, as
        ``jsonschema.validate`` builds it.

    Raises:
        jsonschema.exceptions.SchemaError: the schema itself is invalid.
    """
    schema = schema_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _check_shape(remote_action: type) -> Callable[..., bool]:
    """Rasa's ``_validate_action_result``, after checking it is the one we replace.

    Raises:
        RasaShapeError: the method or the spec is missing or looks different.
    """
    original = inspect.getattr_static(remote_action, "_validate_action_result", None)
    spec = inspect.getattr_static(remote_action, "action_response_format_spec", None)
    if not inspect.isfunction(original):
        raise RasaShapeError("RemoteAction._validate_action_result is missing: Rasa changed, review bot/rasa_patches.py")
    if not isinstance(spec, staticmethod):
        raise RasaShapeError("RemoteAction.action_response_format_spec is no longer a staticmethod: review bot/rasa_patches.py")
    parameters = list(inspect.signature(original).parameters)
    if parameters != ["self", "result"]:
        raise RasaShapeError(f"RemoteAction._validate_action_result takes {parameters}, not (self, result): review bot/rasa_patches.py")
    missing = _EXPECTED_NAMES - set(original.__code__.co_names)
    if missing:
        raise RasaShapeError(
            f"RemoteAction._validate_action_result no longer uses {sorted(missing)}: it may check responses "
            "differently now, review bot/rasa_patches.py"
        )
    return original


def install_action_response_validator() -> None:
    """Make RemoteAction validate action-server responses with a compiled validator.

    Idempotent. The validator is built (and its schema checked) here, at start.

    Raises:
        RasaShapeError: Rasa's RemoteAction is not the shape this patch replaces.
    """
    from rasa.core.actions.action import RemoteAction

    if getattr(RemoteAction.__dict__.get("_validate_action_result"), _PATCH_MARK, False):
        return
    original = _check_shape(RemoteAction)
    compiled_validator(RemoteAction.action_response_format_spec)

    @functools.wraps(original)
    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        if compiled_validator(type(self).action_response_format_spec).is_valid(result):
            return True
        # Rasa's own check, for its exact error: it raises on what we found invalid.
        return original(self, result)

    setattr(_validate_action_result, _PATCH_MARK, True)
    RemoteAction._validate_action_result = _validate_action_result


def install() -> None:
    """Install every patch of this module (call before Rasa's main)."""
    install_action_response_validator()

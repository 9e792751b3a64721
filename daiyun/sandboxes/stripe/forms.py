"""Stripe's request bodies and error answers: form decoding, parameter checks, the error shape.

The v1 API takes ``application/x-www-form-urlencoded`` bodies (and query strings for ``GET``)
with nested parameters written in brackets, exactly as stripe-python encodes them:
``metadata[order]=42``, ``expand[0]=lines``, ``period[start]=1700000000``. Booleans travel as
``true``/``false``, integers as decimal text. :func:`decode_params` turns such a body into nested
dicts and lists of strings; :class:`Params` reads typed values out of it and refuses what Stripe
refuses (a missing or unknown parameter, a malformed integer, a value outside an enumeration).

Errors are answered in Stripe's shape, ``{"error": {"type", "message", "param", "code"}}``:
:class:`StripeError` carries the status and that body. A :class:`ParamError` is raised before an
endpoint begins its work, which matters for idempotency: Stripe saves no result for a request
whose parameters failed validation, so the same key may be used again with corrected ones.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"-?\d+")
_INT64 = 2**63 - 1
METADATA_KEYS = 50
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500


class StripeError(Exception):
    """An error answer: HTTP status and Stripe's error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        return {"error": error}


class ParamError(StripeError):
    """A request refused during parameter validation: no idempotent result is saved for it."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(400, message, param=param, code=code)


def resource_missing(
    kind: str, object_id: str, *, param: str = "id", status: int = 404
) -> StripeError:
    """``No such invoice: 'in_...'``: 404 for the path's object, 400 for a referenced one."""
    return StripeError(
        status, f"No such {kind}: '{object_id}'", param=param, code="resource_missing"
    )


def decode_params(body: str) -> dict[str, Any]:
    """Nested parameters from a form body or query string (``a[b][0]=c`` -> ``{a: {b: [c]}}``)."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(body, keep_blank_values=True, strict_parsing=False):
        head, _, rest = raw_key.partition("[")
        path = [head]
        if rest:
            tail = "[" + rest
            segments = _SEGMENT.findall(tail)
            if "".join(f"[{s}]" for s in segments) != tail:
                raise ParamError(f"Invalid parameter name: {raw_key}", param=raw_key)
            path.extend(segments)
        if not head:
            raise ParamError(f"Invalid parameter name: {raw_key}", param=raw_key)
        _insert(root, path, value, raw_key)
    return _listify(root)


def _insert(node: dict[str, Any], path: list[str], value: str, raw_key: str) -> None:
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        if segment == "":
            # ``expand[]=a&expand[]=b``: an append, numbered in arrival order.
            segment = str(sum(1 for key in node if key.isdigit()))
        if last:
            if isinstance(node.get(segment), dict):
                raise ParamError(f"Invalid parameter: {raw_key}", param=raw_key)
            node[segment] = value
            return
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise ParamError(f"Invalid parameter: {raw_key}", param=raw_key)
        node = child


def _listify(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        out[key] = _as_list_if_indexed(_listify(value)) if isinstance(value, dict) else value
    return out


def _as_list_if_indexed(node: dict[str, Any]) -> dict[str, Any] | list[Any]:
    if node and all(key.isdigit() for key in node):
        return [node[key] for key in sorted(node, key=int)]
    return node


class Params:
    """Typed, checked access to one request's parameters, in Stripe's words when refused."""

    def __init__(self, values: dict[str, Any], allowed: set[str], *, prefix: str = "") -> None:
        self.values = values
        self.prefix = prefix
        unknown = sorted(set(values) - allowed - ({"expand"} if not prefix else set()))
        if unknown:
            name = self.name(unknown[0])
            raise ParamError(
                f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )

    def name(self, key: str) -> str:
        """The parameter's full name as the caller wrote it (``period[start]``)."""
        return f"{self.prefix}[{key}]" if self.prefix else key

    def has(self, key: str) -> bool:
        return key in self.values

    def string(self, key: str, *, required: bool = False, max_length: int = 5000) -> str | None:
        name = self.name(key)
        value = self.values.get(key)
        if value is None:
            if required:
                raise ParamError(
                    f"Missing required param: {name}.", param=name, code="parameter_missing"
                )
            return None
        if not isinstance(value, str):
            raise ParamError(f"Invalid string: {name} must be a string", param=name)
        if len(value) > max_length:
            raise ParamError(
                f"Invalid string: {name} must be at most {max_length} characters", param=name
            )
        return value

    def required(self, key: str, *, max_length: int = 5000) -> str:
        value = self.string(key, required=True, max_length=max_length)
        assert value is not None
        return value

    def integer(
        self, key: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        text = self.string(key, required=required)
        if text is None:
            return None
        name = self.name(key)
        if not _INTEGER.fullmatch(text):
            raise ParamError(
                f"Invalid integer: {text}", param=name, code="parameter_invalid_integer"
            )
        value = int(text)
        if abs(value) > _INT64:
            raise ParamError(
                f"Invalid integer: {text}", param=name, code="parameter_invalid_integer"
            )
        if minimum is not None and value < minimum:
            raise ParamError(
                f"Invalid {name}: must be greater than or equal to {minimum}", param=name
            )
        return value

    def boolean(self, key: str) -> bool | None:
        text = self.string(key)
        if text is None:
            return None
        if text not in ("true", "false"):
            raise ParamError(f"Invalid boolean: {text}", param=self.name(key))
        return text == "true"

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        text = self.string(key)
        if text is not None and text not in choices:
            name = self.name(key)
            raise ParamError(f"Invalid {name}: must be one of {', '.join(choices)}", param=name)
        return text

    def currency(self, key: str = "currency") -> str | None:
        text = self.string(key)
        if text is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{3}", text):
            raise ParamError(f"Invalid currency: {text}", param=self.name(key))
        return text.lower()

    def metadata(self, key: str = "metadata") -> dict[str, str]:
        """Up to 50 keys of at most 40 characters, values of at most 500; empty values drop."""
        name = self.name(key)
        value = self.values.get(key)
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            raise ParamError(f"Invalid object: {name} must be a hash", param=name)
        out: dict[str, str] = {}
        for entry, item in value.items():
            if not isinstance(item, str):
                raise ParamError(
                    f"Invalid {name}[{entry}]: must be a string", param=f"{name}[{entry}]"
                )
            if len(entry) > METADATA_KEY_LENGTH:
                raise ParamError(
                    f"Metadata keys can have up to {METADATA_KEY_LENGTH} characters", param=name
                )
            if len(item) > METADATA_VALUE_LENGTH:
                raise ParamError(
                    f"Metadata values can have up to {METADATA_VALUE_LENGTH} characters",
                    param=f"{name}[{entry}]",
                )
            if item != "":
                out[entry] = item
        if len(out) > METADATA_KEYS:
            raise ParamError(f"Metadata can have up to {METADATA_KEYS} keys", param=name)
        return out

    def nested(self, key: str, allowed: set[str]) -> Params | None:
        """A hash parameter (``period[start]``...), checked for unknown keys like the top level."""
        value = self.values.get(key)
        if value is None:
            return None
        name = self.name(key)
        if not isinstance(value, dict):
            raise ParamError(f"Invalid object: {name} must be a hash", param=name)
        return Params(value, allowed, prefix=name)

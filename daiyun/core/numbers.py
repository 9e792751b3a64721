"""Whole numbers as a request carries them (counts, quantities, minor units)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def _not_bool(value: object) -> object:
    # Python's bool is an int, so pydantic would take JSON true as 1; and 30.0 stays 30, as JSON
    # Schema's integer allows. Bounds belong to each field, inside its Annotated type: on an
    # optional field a bound outside would be enforced but missing from the OpenAPI document.
    if isinstance(value, bool):
        raise ValueError("a number is needed, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_bool)]

"""Shape checks against the official SDK types, shared by the translation tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic.types
import pydantic
import pytest
from openai.types.chat import completion_create_params

_ANTHROPIC_PARAMS = pydantic.TypeAdapter(anthropic.types.MessageCreateParams)
_OPENAI_PARAMS = pydantic.TypeAdapter(completion_create_params.CompletionCreateParams)


def _materialise(value: Any) -> Any:
    """Pydantic validates `Iterable[...]` TypedDict fields lazily; walking them validates."""
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list | tuple | Iterator):
        return [_materialise(v) for v in value]
    return value


@pytest.fixture
def valid_anthropic_request() -> Callable[[dict[str, Any]], None]:
    """Assert that a body validates as the Anthropic SDK's MessageCreateParams."""

    def check(body: dict[str, Any]) -> None:
        _materialise(_ANTHROPIC_PARAMS.validate_python(body))

    return check


@pytest.fixture
def valid_openai_request() -> Callable[[dict[str, Any]], None]:
    """Assert that a body validates as the OpenAI SDK's CompletionCreateParams."""

    def check(body: dict[str, Any]) -> None:
        _materialise(_OPENAI_PARAMS.validate_python(body))

    return check

"""Translation between the OpenAI Chat Completions and Anthropic Messages wire formats.

Pure functions and small stream state machines over JSON-decoded dicts: requests, complete
answers, streams and usage, in both directions.
"""

from steward.providers.translate.errors import TranslationError, UpstreamStreamError
from steward.providers.translate.requests import (
    chat_request_to_messages,
    messages_request_to_chat,
)
from steward.providers.translate.responses import (
    chat_response_to_messages,
    messages_response_to_chat,
)
from steward.providers.translate.streams import ChatToMessagesStream, MessagesToChatStream
from steward.providers.translate.usage import (
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)

__all__ = [
    "ChatToMessagesStream",
    "MessagesToChatStream",
    "TranslationError",
    "UpstreamStreamError",
    "chat_request_to_messages",
    "chat_response_to_messages",
    "messages_request_to_chat",
    "messages_response_to_chat",
    "usage_from_anthropic",
    "usage_from_openai",
    "usage_to_anthropic",
    "usage_to_openai",
]

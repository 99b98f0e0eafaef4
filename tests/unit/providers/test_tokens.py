"""The offline token estimator: BPE-like counts for prose, code and other scripts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.providers.tokens import (
    count_tokens,
    estimate_chat_tokens,
    estimate_embedding_tokens,
    estimate_messages_tokens,
)

PROSE = (
    "Large language models are trained on vast amounts of text, and they learn to predict the "
    "next token in a sequence. When you send a request to an API, the provider counts the tokens "
    "in your prompt and in the model's answer, and bills you for both. Understanding how text is "
    "split into tokens helps you estimate costs, stay within context limits, and design prompts "
    "that are efficient. Our gateway keeps a running estimate so that budgets can be enforced "
    "before the upstream provider responds."
)
CODE = '''def load_orders(path: str) -> list[Order]:
    """Read the orders file."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return [Order(**item) for item in data["orders"] if item.get("quantity", 0) > 0]
'''


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("Hello", 1),
        ("Hello, world!", 4),  # Hello | , | world | !
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("1234567", 3),  # digits in groups of three
        ("1234567890123", 5),
        # Exact cl100k counts:
        ("Hello world!", 3),
        ("This is a sentence without spaces.", 7),
        ("This     is     a     sentence     with     extra     spaces.", 14),
        ("How about numbers? 123 45.6 -78.9", 14),
        ("How about some punctuation?!!", 6),
        ("don't", 2),  # don | 't
        ("getUserName", 3),  # camelCase humps
        ("self.name", 2),  # a single mark joins the word after it
    ],
)
def test_known_counts(text: str, expected: int) -> None:
    assert count_tokens(text) == expected


def test_prose_and_code_ratios_are_bpe_like() -> None:
    prose_ratio = len(PROSE) / count_tokens(PROSE)
    code_ratio = len(CODE) / count_tokens(CODE)
    assert 3.8 <= prose_ratio <= 5.5
    assert 2.5 <= code_ratio <= 4.5
    assert code_ratio < prose_ratio


def test_long_words_and_numbers_cost_more() -> None:
    assert count_tokens("internationalization") > count_tokens("nation")
    assert count_tokens("12345678901234567890") >= 6
    assert count_tokens("    ") >= 1


def test_non_ascii_scripts_count_by_bytes() -> None:
    chinese = "今天天气很好，我们去公园散步吧"
    assert count_tokens(chinese) >= len(chinese) * 0.7
    assert count_tokens("Привет, как дела?") > count_tokens("Hello, how are you?")
    assert count_tokens("\ud800 lone surrogate") > 0  # JSON can carry these; never crash


def test_long_texts_are_measured_in_slices_without_drift() -> None:
    text = (PROSE + "\n\n" + CODE) * 40  # ~40 KB, many slices
    unit = count_tokens(PROSE + "\n\n" + CODE)
    assert abs(count_tokens(text) - 40 * unit) <= 40
    assert count_tokens(text) == count_tokens(str(text))  # deterministic


def test_unbroken_long_text_is_counted() -> None:
    blob = "a" * 10_000 + "1" * 10_000
    assert 1_000 < count_tokens(blob) < 10_000


@given(st.text(), st.text())
def test_count_is_subadditive(a: str, b: str) -> None:
    ab = count_tokens(a + b)
    assert 0 <= ab <= count_tokens(a) + count_tokens(b) + 1
    assert ab <= 2 * len((a + b).encode("utf-8", "surrogatepass"))


@given(st.text(alphabet=st.sampled_from("aZ9 \n\t.(_-'é中"), max_size=200))
def test_count_is_subadditive_on_token_boundaries(text: str) -> None:
    for cut in range(len(text) + 1):
        a, b = text[:cut], text[cut:]
        assert count_tokens(text) <= count_tokens(a) + count_tokens(b) + 1


def test_chat_estimate_counts_messages_tools_and_framing() -> None:
    empty = {"messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""}]}
    assert estimate_chat_tokens(empty) == 3 + 2 * 3
    question = {"messages": [{"role": "user", "content": PROSE}]}
    assert estimate_chat_tokens(question) == 3 + 3 + count_tokens(PROSE)
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": PROSE}]}]}
    assert estimate_chat_tokens(parts) == estimate_chat_tokens(question)
    image = {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}
    with_image = {"messages": [{"role": "user", "content": [image]}]}
    assert estimate_chat_tokens(with_image) == 3 + 3 + 85
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    with_call = {"messages": [{"role": "assistant", "content": None, "tool_calls": [call]}]}
    assert estimate_chat_tokens(with_call) > estimate_chat_tokens({"messages": [{"role": "a"}]})
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object"}},
    }
    assert estimate_chat_tokens({**question, "tools": [tool]}) > estimate_chat_tokens(question)


def test_chat_estimate_ignores_malformed_parts() -> None:
    body = {
        "messages": [None, {"role": "user", "content": [None, 3, {"type": "text"}]}],
        "tools": 1,
    }
    assert estimate_chat_tokens(body) == 3 + 3
    assert estimate_chat_tokens({}) == 3


def test_messages_estimate_counts_system_blocks_and_tools() -> None:
    base = {"messages": [{"role": "user", "content": PROSE}]}
    assert estimate_messages_tokens(base) == 3 + 3 + count_tokens(PROSE)
    with_system = {**base, "system": [{"type": "text", "text": "Be brief."}]}
    assert estimate_messages_tokens(with_system) == estimate_messages_tokens(base) + 3
    blocks = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "sunny"}],
            },
        ]
    }
    assert estimate_messages_tokens(blocks) > 3 + 2 * 3
    tool = {"name": "f", "description": "Does f.", "input_schema": {"type": "object"}}
    assert (
        estimate_messages_tokens({**base, "tools": [tool]}) > estimate_messages_tokens(base) + 100
    )


def test_embedding_estimate() -> None:
    assert estimate_embedding_tokens("Hello, world!") == 4
    assert estimate_embedding_tokens(["Hello, world!", "Hello"]) == 5
    assert estimate_embedding_tokens([1, 2, 3]) == 3
    assert estimate_embedding_tokens([[1, 2], [3, 4, 5]]) == 5

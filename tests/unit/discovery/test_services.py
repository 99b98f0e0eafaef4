"""The AI services catalogue: the shipped file loads, hosts and wildcards match as documented,
path-qualified entries need a path, and a user file adds or replaces entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from steward.discovery.services import (
    ServiceCatalog,
    ServicesFileError,
    host_regex,
    load_catalog,
)


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return load_catalog()


REQUIRED = {
    "openai",
    "azure-openai",
    "anthropic",
    "google-gemini",
    "google-vertex-ai",
    "aws-bedrock",
    "mistral",
    "cohere",
    "groq",
    "together",
    "perplexity",
    "deepseek",
    "xai",
    "openrouter",
    "huggingface-inference",
    "replicate",
    "fireworks",
    "elevenlabs",
    "character-ai",
    "poe",
    "chatgpt",
    "claude-web",
    "github-copilot",
    "microsoft-copilot",
}


def test_shipped_file_covers_the_major_services(catalog: ServiceCatalog) -> None:
    names = {s.name for s in catalog.services}
    assert not REQUIRED - names, sorted(REQUIRED - names)


@pytest.mark.parametrize(
    ("host", "service"),
    [
        ("api.openai.com", "openai"),
        ("chatgpt.com", "chatgpt"),
        ("ab.chatgpt.com", "chatgpt"),
        ("myres.openai.azure.com", "azure-openai"),
        ("a.b.openai.azure.com", "azure-openai"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "aws-bedrock"),
        ("us-central1-aiplatform.googleapis.com", "google-vertex-ai"),
        ("generativelanguage.googleapis.com", "google-gemini"),
        ("claude.ai", "claude-web"),
        ("api.githubcopilot.com", "github-copilot"),
        ("beta.character.ai", "character-ai"),
        ("character.ai", "character-ai"),
    ],
)
def test_hosts_match(catalog: ServiceCatalog, host: str, service: str) -> None:
    found = catalog.match(host)
    assert found is not None and found.name == service


@pytest.mark.parametrize(
    "host",
    [
        "openai.azure.com",  # '*.' needs a subdomain
        "evil-openai.com",
        "api.openai.com.evil.net",
        "bedrock-runtime.a.b.amazonaws.com",  # a middle '*' is one label
        "s3.amazonaws.com",
        "www.example.com",
    ],
)
def test_hosts_that_do_not_match(catalog: ServiceCatalog, host: str) -> None:
    assert catalog.match(host) is None


def test_path_rules_need_a_matching_path(catalog: ServiceCatalog) -> None:
    ai = "/client/v4/accounts/abc/ai/run/@cf/meta/llama"
    found = catalog.match("api.cloudflare.com", ai)
    assert found is not None and found.name == "cloudflare-workers-ai"
    assert catalog.match("api.cloudflare.com", "/client/v4/zones") is None
    assert catalog.match("api.cloudflare.com", None) is None  # CONNECT / DNS: no path
    found = catalog.match("x.cognitiveservices.azure.com", "/openai/deployments/gpt/chat")
    assert found is not None and found.name == "azure-ai-services-openai"
    assert catalog.match("x.cognitiveservices.azure.com", "/vision/v3.2/analyze") is None


def test_host_regex() -> None:
    assert host_regex("api.example.com") is None
    rx = host_regex("*.example.com")
    assert rx is not None and rx.match("a.b.example.com") and not rx.match("example.com")
    rx = host_regex("*-ai.example.com")
    assert rx is not None and rx.match("eu-ai.example.com") and not rx.match("a.b-ai.example.com")


def test_user_file_adds_and_replaces(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "services:\n"
        "  - name: internal-llm\n"
        "    provider: Our platform team\n"
        "    hosts: ['llm.corp.example', '*.llm.corp.example']\n"
        "  - name: openai\n"
        "    provider: OpenAI (EU)\n"
        "    hosts: [eu.api.openai.com]\n",
        encoding="utf-8",
    )
    cat = load_catalog([extra])
    found = cat.match("gpu1.llm.corp.example")
    assert found is not None and found.name == "internal-llm"
    replaced = cat.match("eu.api.openai.com")
    assert replaced is not None and replaced.provider == "OpenAI (EU)"
    assert cat.match("api.openai.com") is None  # the entry was replaced, not merged


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [{name: X, provider: p, hosts: [a.com]}]", "services.0.name"),
        ("services: [{name: x, provider: p, hosts: ['bad host']}]", "is not a host pattern"),
        ("services: [{name: x, provider: p, hosts: [a.com], paths: [v1]}]", "must start with"),
        ("services: [{name: x, provider: p}]", "services.0.hosts"),
        ("services: [{name: x, provider: p, hosts: [a.com], colour: red}]", "colour"),
        ("services: [oops", "not valid YAML"),
    ],
)
def test_bad_user_file_names_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    extra = tmp_path / "bad.yaml"
    extra.write_text(text, encoding="utf-8")
    with pytest.raises(ServicesFileError) as err:
        load_catalog([extra])
    assert str(extra) in str(err.value) and message in str(err.value)


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(ServicesFileError, match="cannot read services file"):
        load_catalog([tmp_path / "nope.yaml"])

"""The OpenAI-compatible client against a stand-in server process: retries, caps, key hygiene."""

from __future__ import annotations

import os
import re

import pytest

from aitherd.llm import BadReply, ChatClient, EndpointConfig, LLMError, PromptError, SpendCapReached

KEY = "sk-test-SECRETKEY-1234567890abcdef"


def leaks(text: str, key: str = KEY, window: int = 8) -> bool:
    """Any `window` characters of the key in `text` (a key cut at a length limit still leaks)."""
    return any(key[i:i + window] in text for i in range(len(key) - window + 1))


def client(standin, monkeypatch, **kw) -> tuple[ChatClient, list[float]]:
    monkeypatch.setenv("TEACHER_KEY", KEY)
    sleeps: list[float] = []
    cfg = EndpointConfig(base_url=standin.base_url, model="teacher-1", api_key_env="TEACHER_KEY", **kw)
    return ChatClient(cfg, sleep=sleeps.append), sleeps


def test_reasoning_comes_from_the_field_or_think_tags(standin, monkeypatch):
    standin.script({"key": KEY, "rules": [
        {"match": "field", "content": "42", "reasoning": "6 times 7"},
        {"match": "inline", "content": "<think>\nadd them\n</think>\n\n5"}]})
    c, _ = client(standin, monkeypatch)
    a = c.complete([{"role": "user", "content": "use the field"}])
    assert (a.text, a.reasoning, a.finish_reason) == ("42", "6 times 7", "stop")
    b = c.complete([{"role": "user", "content": "inline please"}])
    assert (b.text, b.reasoning) == ("5", "add them")
    assert all(r["key_ok"] for r in standin.requests())
    assert c.spent_tokens == 60


def test_rate_limits_and_server_errors_are_retried_with_backoff(standin, monkeypatch):
    standin.script({"key": KEY, "queue": [{"status": 429, "retry_after": "7"}, {"status": 503},
                                          {"status": 200, "content": "ok"}]})
    c, sleeps = client(standin, monkeypatch, backoff=2, max_backoff=30)
    assert c.complete([{"role": "user", "content": "hi"}]).text == "ok"
    assert c.retries == 2 and len(standin.requests()) == 3
    assert sleeps[0] == 7.0  # Retry-After honoured
    assert 1.0 <= sleeps[1] <= 4.0  # 2 * 2**1 with jitter in [0.5, 1]


def test_gives_up_after_max_retries_and_does_not_retry_client_errors(standin, monkeypatch):
    standin.script({"key": KEY, "queue": [{"status": 500}] * 3})
    c, _ = client(standin, monkeypatch, max_retries=2)
    with pytest.raises(LLMError, match="gave up after 3 attempts"):
        c.complete([{"role": "user", "content": "hi"}])
    standin.script({"key": KEY, "queue": [{"status": 400}]})
    with pytest.raises(LLMError) as err:
        c.complete([{"role": "user", "content": "hi"}])
    assert err.value.status == 400 and len(standin.requests()) == 4


def test_spend_cap_stops_generation(standin, monkeypatch):
    standin.script({"key": KEY, "default": {"content": "x", "usage": {"total_tokens": 400}}})
    c, _ = client(standin, monkeypatch, spend_cap_tokens=1000)
    for _ in range(3):
        c.complete([{"role": "user", "content": "go"}])
    with pytest.raises(SpendCapReached, match="1000 tokens"):
        c.complete([{"role": "user", "content": "go"}])
    assert len(standin.requests()) == 3


def test_the_key_never_leaks_into_errors_or_config(standin, monkeypatch, tmp_path):
    standin.script({"key": "another-key"})
    c, _ = client(standin, monkeypatch)
    with pytest.raises(LLMError) as err:
        c.complete([{"role": "user", "content": "hi"}])
    assert err.value.status == 401 and KEY not in str(err.value) and KEY not in repr(c)
    with pytest.raises(ValueError, match="do not put the API key in the config"):
        EndpointConfig(base_url="http://x", model="m", api_key=KEY)
    monkeypatch.delenv("TEACHER_KEY")
    with pytest.raises(LLMError, match="TEACHER_KEY is not set"):
        ChatClient(EndpointConfig(base_url="http://x", model="m", api_key_env="TEACHER_KEY"))
    cred = tmp_path / "key"
    cred.write_text(KEY + "\n")
    os.chmod(cred, 0o644)
    with pytest.raises(LLMError, match="chmod 600"):
        ChatClient(EndpointConfig(base_url="http://x", model="m", credentials_file=str(cred)))
    os.chmod(cred, 0o600)
    standin.script({"key": KEY})
    ok = ChatClient(EndpointConfig(base_url=standin.base_url, model="m", credentials_file=str(cred)))
    assert ok.complete([{"role": "user", "content": "hi"}]).text == "echo: hi"


def test_unreachable_endpoint_is_a_clear_error(monkeypatch):
    c = ChatClient(EndpointConfig(base_url="http://127.0.0.1:9/v1", model="m", max_retries=1),
                   sleep=lambda _s: None)
    with pytest.raises(LLMError, match=re.escape("cannot reach http://127.0.0.1:9/v1/chat/completions")):
        c.complete([{"role": "user", "content": "hi"}])


def test_an_error_body_that_echoes_the_key_is_scrubbed_even_at_the_length_limit(standin, monkeypatch):
    github = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    standin.script({"key": KEY, "queue": [
        {"status": 400, "error_body": "x" * 290 + KEY + " rejected"},  # the key across the cut
        {"status": 403, "error_body": f"forbidden for {KEY.replace('-', '%2D')}; token {github}"}] +
        [{"status": 500, "error_body": f'{{"error": "upstream said Bearer {KEY}"}}'}] * 2})
    c, _ = client(standin, monkeypatch, max_retries=1)
    messages = []
    for _ in range(3):
        with pytest.raises(LLMError) as err:
            c.complete([{"role": "user", "content": "hi"}])
        messages.append(str(err.value))
    assert [leaks(m) for m in messages] == [False, False, False], messages
    assert "<REDACTED:" in messages[0] and messages[0].startswith("HTTP 400")
    assert github not in messages[1] and "<REDACTED:github_token>" in messages[1]
    assert messages[2].startswith("gave up after 2 attempts: HTTP 500")


def test_a_reply_that_echoes_the_key_does_not_carry_it(standin, monkeypatch):
    standin.script({"key": KEY, "default": {"content": f"Your key is {KEY}.", "reasoning": f"it was {KEY}"}})
    c, _ = client(standin, monkeypatch)
    out = c.complete([{"role": "user", "content": "hi"}])
    assert not leaks(out.text + (out.reasoning or "")) and "<REDACTED:api_key>" in out.text


def test_a_wrong_key_echoed_by_the_provider_never_reaches_the_error(standin, monkeypatch):
    standin.script({"key": "the-right-key"})  # the stand-in's 401 body quotes the key it was sent
    c, _ = client(standin, monkeypatch)
    with pytest.raises(LLMError) as err:
        c.complete([{"role": "user", "content": "hi"}])
    assert err.value.status == 401 and "Incorrect API key provided" in str(err.value)
    assert not leaks(str(err.value)) and not leaks(repr(err.value))


@pytest.mark.parametrize("reply", [
    {"raw": "<html>Bad gateway</html>"}, {"body": [1, 2]}, {"body": {"choices": []}},
    {"body": {"choices": [{"message": None}]}}, {"body": {"choices": [{"message": {"content": 5}}]}},
    {"body": {"choices": "none"}}])
def test_a_malformed_reply_is_one_bad_reply_error_not_a_crash(standin, monkeypatch, reply):
    standin.script({"key": KEY, "queue": [reply]})
    c, _ = client(standin, monkeypatch)
    with pytest.raises(BadReply) as err:
        c.complete([{"role": "user", "content": "hi"}])
    assert isinstance(err.value, PromptError) and "malformed reply" in str(err.value)
    assert len(standin.requests()) == 1  # not retried within the call: it is the prompt's failure


def test_content_given_as_text_parts_is_joined(standin, monkeypatch):
    standin.script({"key": KEY, "queue": [{"body": {"choices": [{"message": {"content": [
        {"type": "text", "text": "Answer: "}, {"type": "text", "text": "7"}]}, "finish_reason": "stop"}]}}]})
    c, _ = client(standin, monkeypatch)
    assert c.complete([{"role": "user", "content": "hi"}]).text == "Answer: 7"


def test_think_tags_never_reach_the_reasoning_or_the_answer(standin, monkeypatch):
    standin.script({"key": KEY, "rules": [
        {"match": "wrapped", "content": "42", "reasoning": "<think>\n<think>six sevens</think>\n</think>"},
        {"match": "both", "content": "<think>again</think>\n\n43", "reasoning": "from the field"},
        {"match": "template", "content": "opened by the template\n</think>\n\n44"}]})
    c, _ = client(standin, monkeypatch)
    got = [c.complete([{"role": "user", "content": w}]) for w in ("wrapped", "both", "template")]
    assert [(g.reasoning, g.text) for g in got] == [
        ("six sevens", "42"), ("from the field", "43"), ("opened by the template", "44")]

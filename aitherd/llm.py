"""A small client for any OpenAI-compatible chat endpoint (a local vLLM, a cloud teacher).

Standard library only (and the secret redactor). Keys come from an environment variable or a
credentials file, never from the TOML, and never appear in errors or logs: every error text is
scrubbed of the key (as sent, URL-quoted or JSON-escaped) and of anything the redactor flags
before it is cut to length, since providers echo keys in their error bodies. Rate limits and
server errors are retried with exponential backoff (honouring Retry-After); a per-run token
spend cap stops generation. A reply that cannot be read (not JSON, no message, content not
text) raises `BadReply`: a failure of that request, not of the endpoint.
"""

from __future__ import annotations

import functools
import json
import os
import random
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aitherd import errors
from aitherd.think import split as split_think
from aitherd.think import unwrap as unwrap_think

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# The endpoint works but refused this one request (too long, invalid content): the prompt's failure.
_PROMPT_STATUS = {400, 413, 422}
_ERROR_BODY_READ = 64 * 1024  # read this much of an error body, scrub it, then quote...
_ERROR_BODY_QUOTED = 300  # ...this much of it
KEY_PLACEHOLDER = "<REDACTED:api_key>"


class LLMError(errors.ServiceError):
    """The endpoint could not give an answer; the message never contains the key."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SpendCapReached(LLMError):
    """This run has used the tokens it was allowed."""


class PromptError(LLMError):
    """This request failed but the endpoint works: count it against the prompt, go on."""


class BadReply(PromptError):
    """The endpoint answered with something that is not a chat completion."""


@functools.lru_cache(maxsize=1)
def _redactor() -> Any:
    from aitherd.curate.config import RedactConfig
    from aitherd.curate.redact import Redactor

    return Redactor(RedactConfig.model_validate({}))


def scrub(text: str, key: str | None) -> str:
    """`text` without the key (in the forms an echo takes) and without what the redactor flags."""
    if key:
        for form in {key, urllib.parse.quote(key, safe=""), json.dumps(key)[1:-1]}:
            text = text.replace(form, KEY_PLACEHOLDER)
        text = text.replace(urllib.parse.quote(key, safe="").replace("-", "%2D"), KEY_PLACEHOLDER)
    return _redactor().redact(text)[0]


def _safe_url(url: str) -> str:
    """The URL without credentials or query string (both can carry a key)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class EndpointConfig(BaseModel):
    """An OpenAI-compatible endpoint. The key is named, never given: `api_key_env` (an
    environment variable) or `credentials_file` (a file holding only the key)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str
    model: str
    api_key_env: str = ""
    credentials_file: str = ""
    timeout: float = Field(default=120, gt=0)
    max_retries: int = Field(default=5, ge=0)
    backoff: float = Field(default=1.0, ge=0)
    max_backoff: float = Field(default=60, ge=0)
    requests_per_minute: float = Field(default=0, ge=0)  # 0: no client-side limit
    spend_cap_tokens: int = Field(default=0, ge=0)  # per run; 0: no cap
    temperature: float = 0.6
    max_tokens: int = 4096

    @model_validator(mode="before")
    @classmethod
    def _no_inline_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in ("api_key", "key", "token")):
            raise ValueError("do not put the API key in the config: set api_key_env to the name "
                             "of an environment variable, or credentials_file to a file holding it")
        return data


@dataclass
class Completion:
    text: str
    reasoning: str | None
    finish_reason: str | None
    usage: dict[str, int] = field(default_factory=dict)


def resolve_key(cfg: EndpointConfig) -> str | None:
    if cfg.api_key_env:
        key = os.environ.get(cfg.api_key_env)
        if not key:
            raise LLMError(f"environment variable {cfg.api_key_env} is not set (it should hold "
                           f"the API key for {cfg.base_url})")
        return key.strip()
    if cfg.credentials_file:
        path = Path(cfg.credentials_file).expanduser()
        try:
            mode = path.stat().st_mode
            key = path.read_text().strip()
        except OSError as err:
            raise LLMError(f"cannot read the credentials file {path}: {err.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise LLMError(f"credentials file {path} is readable by others: chmod 600 it")
        return key
    return None


class ChatClient:
    def __init__(self, cfg: EndpointConfig, *, sleep: Any = time.sleep) -> None:
        self.cfg = cfg
        self._key = resolve_key(cfg)
        self._sleep = sleep
        self._last_request = 0.0
        self.spent_tokens = 0
        self.requests = 0
        self.retries = 0

    def __repr__(self) -> str:  # never show the key
        return f"ChatClient({self.cfg.base_url!r}, model={self.cfg.model!r})"

    def _url(self) -> str:
        base = self.cfg.base_url.rstrip("/")
        return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"

    def _error(self, cls: type[LLMError], message: str, status: int | None = None) -> LLMError:
        """Every error this client raises passes here: the key and other secrets scrubbed."""
        return cls(scrub(message, self._key), status)

    def _error_body(self, err: urllib.error.HTTPError) -> str:
        """The start of an error body, scrubbed before it is cut (a key across the cut leaks)."""
        try:
            raw = err.read(_ERROR_BODY_READ)
        except Exception:
            return ""
        text = scrub(raw.decode("utf-8", "replace"), self._key)
        return text[:_ERROR_BODY_QUOTED] + ("..." if len(text) > _ERROR_BODY_QUOTED else "")

    def _pace(self) -> None:
        if self.cfg.requests_per_minute:
            gap = 60.0 / self.cfg.requests_per_minute - (time.monotonic() - self._last_request)
            if gap > 0:
                self._sleep(gap)
        self._last_request = time.monotonic()

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.cfg.max_backoff)
            except ValueError:
                pass
        base = min(self.cfg.backoff * 2**attempt, self.cfg.max_backoff)
        return base * (0.5 + random.random() / 2)

    def complete(self, messages: list[dict[str, str]], **params: Any) -> Completion:
        if self.cfg.spend_cap_tokens and self.spent_tokens >= self.cfg.spend_cap_tokens:
            raise SpendCapReached(f"spend cap of {self.cfg.spend_cap_tokens} tokens reached "
                                  f"({self.spent_tokens} used this run)")
        body = {"model": self.cfg.model, "messages": messages,
                "temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens, **params}
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        data = json.dumps(body).encode()
        url = _safe_url(self._url())
        last_error = "no attempt made"
        for attempt in range(self.cfg.max_retries + 1):
            self._pace()
            self.requests += 1
            req = urllib.request.Request(self._url(), data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.cfg.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as err:
                last_error = f"HTTP {err.code} from {url}: {self._error_body(err)}"
                if err.code in _PROMPT_STATUS:
                    raise self._error(PromptError, last_error, err.code) from None
                if err.code not in _RETRY_STATUS:
                    raise self._error(LLMError, last_error, err.code) from None
                retry_after = err.headers.get("Retry-After")
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                last_error = f"cannot reach {url}: {getattr(err, 'reason', err)}"
                retry_after = None
            else:
                return self._parse(raw, url)
            if attempt < self.cfg.max_retries:
                self.retries += 1
                self._sleep(self._delay(attempt, retry_after))
        raise self._error(LLMError, f"gave up after {self.cfg.max_retries + 1} attempts: {last_error}")

    def _parse(self, raw: bytes, url: str) -> Completion:
        """A completion from a reply body; BadReply (scrubbed, with what was wrong) otherwise."""
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            message = choice["message"]
            content = message.get("content")
            reasoning = message.get("reasoning") or message.get("reasoning_content")
            if isinstance(content, list):  # content given as parts: [{"type": "text", "text": ...}]
                content = "".join(p.get("text") or "" for p in content
                                  if isinstance(p, dict) and p.get("type") in (None, "text"))
            if not isinstance(content, str | None) or not isinstance(reasoning, str | None):
                raise TypeError(f"content is {type(content).__name__}, not text")
            finish = choice.get("finish_reason")
            usage = {k: int(v) for k, v in (payload.get("usage") or {}).items() if isinstance(v, int | float)}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
            start = raw[:120].decode("utf-8", "replace")
            raise self._error(BadReply, f"malformed reply from {url}: {type(err).__name__}: {err} "
                                        f"(reply starts {start!r})", 200) from None
        text = content or ""
        if self._key and (self._key in text or self._key in (reasoning or "")):  # an echo of the key
            text = text.replace(self._key, KEY_PLACEHOLDER)
            reasoning = reasoning.replace(self._key, KEY_PLACEHOLDER) if reasoning else reasoning
        reasoning = unwrap_think(reasoning)
        inline, rest = split_think(text)
        if inline is not None or rest != text:  # reasoning in the content: take it out either way
            reasoning, text = reasoning or inline, rest
        used = usage.get("total_tokens") or (len(text) + len(reasoning or "")) // 4
        self.spent_tokens += used
        return Completion(text=text.strip(), reasoning=reasoning, usage=usage,
                          finish_reason=finish if isinstance(finish, str) else None)

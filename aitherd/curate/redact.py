"""Secret redaction: keyword-gated regexes (gitleaks style) plus an entropy check.

Each rule runs only when one of its keywords occurs in the lowercased text, so clean text costs
a few substring searches. Matches become typed placeholders like `<REDACTED:aws_access_key>`;
only counts per type are recorded, never the secret.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aitherd.curate.config import RedactConfig


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_PLACEHOLDER_VALUE = re.compile(
    r"^(?:\$\{?\w+\}?|\{\{.*\}\}|<[^>]*>|%\(?\w*\)?s?|\*+|x+|\.\.\.|none|null|changeme|"
    r"password|secret|your[_-]?\w*|example\w*|redacted|dummy|test|os\.environ.*|getenv.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    name: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]
    group: int = 0  # which group is the secret (the rest of the match is kept)
    check: Callable[[str, RedactConfig], bool] | None = None


def _generic_ok(value: str, cfg: RedactConfig) -> bool:
    return not _PLACEHOLDER_VALUE.match(value) and entropy(value) >= cfg.entropy_min


def _password_ok(value: str, cfg: RedactConfig) -> bool:
    return not _PLACEHOLDER_VALUE.match(value)


def _email_ok(value: str, cfg: RedactConfig) -> bool:
    domain = value.rsplit("@", 1)[-1].lower()
    return cfg.emails and not re.match(r"(?:.*\.)?example\.(?:com|org|net)$|localhost", domain)


RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        ("private key",),
        re.compile(
            r"-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
            r"-----END[A-Z ]*PRIVATE KEY(?: BLOCK)?-----"
        ),
    ),
    Rule(
        "aws_access_key",
        ("akia", "asia", "abia", "acca"),
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    ),
    Rule(
        "aws_secret_key",
        ("aws",),
        re.compile(
            r"(?i)aws[\w.\-]{0,20}(?:secret|key)[\w.\-]{0,20}['\"]?\s*[:=]\s*['\"]?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
        ),
        1,
    ),
    Rule("gcp_api_key", ("aiza",), re.compile(r"\bAIza[0-9A-Za-z_\-]{35}(?![\w-])")),
    Rule(
        "azure_storage_key",
        ("accountkey",),
        re.compile(r"(?i)AccountKey=([A-Za-z0-9+/]{40,100}={0,2})"),
        1,
    ),
    Rule(
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ),
    Rule(
        "gitlab_token",
        ("glpat-", "glptt-", "gldt-"),
        re.compile(r"\b(?:glpat|glptt|gldt)-[A-Za-z0-9_\-]{20,}"),
    ),
    Rule("anthropic_key", ("sk-ant-",), re.compile(r"\bsk-ant-[a-z]+\d{0,3}-[A-Za-z0-9_\-]{32,}")),
    Rule(
        "openai_key",
        ("sk-",),
        re.compile(r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
    ),
    Rule("hf_token", ("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{30,40}\b")),
    Rule("slack_token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    Rule(
        "slack_webhook",
        ("hooks.slack.com",),
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_]+"),
    ),
    Rule(
        "stripe_key",
        ("sk_live", "rk_live", "sk_test", "rk_test"),
        re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),
    ),
    Rule(
        "jwt",
        ("eyj",),
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ),
    Rule(
        "url_password",
        ("://",),
        re.compile(r"[a-zA-Z][\w+.\-]*://[^\s:/@'\"]+:([^\s@/'\"]+)@"),
        1,
        _password_ok,
    ),
    Rule(
        "password",
        ("passw", "pwd"),
        re.compile(r"(?i)(?:password|passwd|pwd)[\w.\-]*['\"]?\s*[:=]\s*(['\"])([^'\"\s]{4,})\1"),
        2,
        _password_ok,
    ),
    Rule(
        "generic_secret",
        ("secret", "token", "api_key", "apikey", "api-key", "client_key"),
        re.compile(
            r"(?i)(?:secret|token|api[_\-]?key|client_key)[\w.\-]*['\"]?\s*[:=]\s*"
            r"(['\"])([A-Za-z0-9_\-+/=.~]{16,})\1"
        ),
        2,
        _generic_ok,
    ),
    Rule(
        "email",
        ("@",),
        re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,255}\.[A-Za-z]{2,}"),
        0,
        _email_ok,
    ),
)


class Redactor:
    """Redacts one string at a time; `redact` returns (text, counts per type, chars removed)."""

    def __init__(self, cfg: RedactConfig) -> None:
        self.cfg = cfg
        self._ds_plugins: list[object] | None = None
        if cfg.detect_secrets:
            try:
                from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
            except ImportError as err:
                raise ImportError(
                    "curation.redact.detect_secrets needs: pip install detect-secrets"
                ) from err
            self._ds_plugins = [c() for c in get_mapping_from_secret_type_to_class().values()]

    def redact(self, text: str) -> tuple[str, Counter[str], int]:
        counts: Counter[str] = Counter()
        removed = 0
        if not text:
            return text, counts, 0
        low = text.lower()
        for rule in RULES:
            if not any(k in low for k in rule.keywords):
                continue

            def repl(m: re.Match[str], rule: Rule = rule) -> str:
                nonlocal removed
                secret = m.group(rule.group)
                if rule.check is not None and not rule.check(secret, self.cfg):
                    return m.group(0)
                counts[rule.name] += 1
                removed += len(secret)
                s, e = m.start(rule.group) - m.start(), m.end(rule.group) - m.start()
                whole = m.group(0)
                return whole[:s] + f"<REDACTED:{rule.name}>" + whole[e:]

            text = rule.pattern.sub(repl, text)
            low = text.lower()
        if self._ds_plugins is not None:
            text, removed = self._detect_secrets(text, counts, removed)
        return text, counts, removed

    def _detect_secrets(self, text: str, counts: Counter[str], removed: int) -> tuple[str, int]:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if "=" not in line and ":" not in line:
                continue
            for plugin in self._ds_plugins or []:
                for found in plugin.analyze_line(filename="x", line=line):  # type: ignore[attr-defined]
                    value = found.secret_value
                    if value and value in line and "<REDACTED:" not in value:
                        line = line.replace(value, "<REDACTED:detect_secrets>")
                        counts["detect_secrets"] += 1
                        removed += len(value)
            lines[i] = line
        return "\n".join(lines), removed

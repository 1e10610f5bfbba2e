"""Secret redaction: the one place every stored, served or logged string passes.

`Redactor.find` gives the spans of secret values (detectors in `secret_rules` and
`secret_context`: provider tokens, named values, auth headers, URL passwords, key blocks,
emails); `redact` replaces each with a typed placeholder like `<REDACTED:password>` and counts
it by type, never keeping the secret. `scrub` applies it to any JSON-like value (strings inside
dicts and lists, keys included) and `scrub_candidate` to every field of a `Candidate`, so a field
added later is covered without a change here. Curation, `insert_candidates`, the log processor
and the run rows all go through `scrub`; the placeholders never match again, so scrubbing twice
changes nothing.

This module is light (no numpy): the daemon process imports it for logs and run rows.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from aitherd.curate.config import RedactConfig
from aitherd.curate.secret_context import (
    auth_values,
    aws_secrets,
    cli_values,
    emails,
    markup_values,
    named_values,
    private_keys,
    url_passwords,
)
from aitherd.curate.secret_rules import PROVIDERS, Span, entropy, is_placeholder  # noqa: F401 - re-exported

# (keywords one of which must occur in the lowercased text: detector)
_CONTEXT = (
    (("pass", "pw", "secret", "token", "key", "cred", "auth", "hmac"), named_values),
    (("</", "<add"), markup_values),
    (("basic", "bearer", "token", "authorization", "auth", "credential", "login"), auth_values),
    ((" -u", "--user", " -p", "--", "password "), cli_values),
    (("://",), url_passwords),
    (("private key",), private_keys),
    (("aws", "akia", "asia"), aws_secrets),  # "draws" passes this gate; the detector is precise
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_PLACEHOLDER = re.compile(r"<REDACTED:\w+>")
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=.]{15}")


def _lower(text: str) -> str:
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


# What a Redactor remembers (cleared when either is reached): strings, and their characters.
_MEMO_STRINGS, _MEMO_CHARS = 16384, 8_000_000


class Redactor:
    """Finds and replaces secrets in one string at a time.

    With `memo` (the harvest's redactor, see `configure`), `redact` remembers its last few
    thousand results by input: a harvest redacts each candidate in curation and again on its
    way into the store (the structural guarantee), and most
    strings come out unchanged, so the store's pass finds them here; keys and values repeated on
    every candidate ("content", a file path) are redacted once. The result is a function of the
    string and the settings, so remembering it changes nothing."""

    def __init__(self, cfg: RedactConfig | None = None, memo: bool = False) -> None:
        self.cfg = cfg or RedactConfig()
        self._memo_on = memo
        self._memo: dict[str, tuple[str, Counter[str], int]] = {}
        self._memo_chars = 0
        self._ds_plugins: list[object] | None = None
        if self.cfg.detect_secrets:
            try:
                from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
            except ImportError as err:
                raise ImportError(
                    "curation.redact.detect_secrets needs: pip install detect-secrets"
                ) from err
            self._ds_plugins = [c() for c in get_mapping_from_secret_type_to_class().values()]

    def find(self, text: str) -> list[Span]:
        """Spans (start, end, kind) of secrets in `text`, sorted, overlaps merged."""
        if len(text) < 6 or not self.cfg.enabled:
            return []
        low = _lower(text)
        spans: list[Span] = []
        if len(text) > 4096 or _TOKEN_RUN.search(text):  # every provider token is such a run
            for provider in PROVIDERS:
                spans.extend(provider.find(text, low))
        for keywords, detector in _CONTEXT:
            if not keywords or any(k in low for k in keywords):
                spans.extend(detector(text, low, self.cfg.entropy_min))
        if self.cfg.emails and "@" in text:
            spans.extend(emails(text, low))
        if self._ds_plugins is not None:
            spans.extend(self._detect_secrets(text))
        return _merge(text, spans)

    def redact(self, text: str) -> tuple[str, Counter[str], int]:
        """(redacted text, counts per type, characters removed)."""
        known = self._memo.get(text)
        if known is not None:
            return known[0], Counter(known[1]) if known[1] else Counter(), known[2]
        out, counts, removed = apply(text, self.find(text) if text else [])
        self._remember(text, (out, Counter(counts), removed))
        return out, counts, removed

    def remember(self, text: str) -> None:
        """Note that `redact(text)` found nothing: only for a text this redactor (or a copy of it
        with the same settings, in a worker process) returned unchanged with no counts."""
        self._remember(text, (text, Counter(), 0))

    def _remember(self, text: str, result: tuple[str, Counter[str], int]) -> None:
        if not self._memo_on:
            return
        if len(self._memo) >= _MEMO_STRINGS or self._memo_chars >= _MEMO_CHARS:
            self._memo.clear()
            self._memo_chars = 0
        self._memo[text] = result
        self._memo_chars += len(text)

    def _detect_secrets(self, text: str) -> Iterator[Span]:
        offset = 0
        for line in text.split("\n"):
            if "=" in line or ":" in line:
                for plugin in self._ds_plugins or []:
                    for found in plugin.analyze_line(filename="x", line=line):  # type: ignore[attr-defined]
                        value = found.secret_value
                        at = line.find(value) if value else -1
                        if at >= 0:
                            yield offset + at, offset + at + len(value), "detect_secrets"
            offset += len(line) + 1


# Kinds that name how a secret was found, not what it is: a provider's name wins over them.
_GENERIC = frozenset({"password", "generic_secret", "bearer_token", "auth_header", "url_password",
                      "basic_auth", "aws_secret_key", "detect_secrets"})


def _merge(text: str, spans: list[Span]) -> list[Span]:
    """Sort and merge overlapping spans (a provider's kind wins); never re-redact a placeholder."""
    spans = [s for s in spans if s[1] > s[0] and not _PLACEHOLDER.fullmatch(text[s[0]:s[1]])]
    if not spans:
        return []
    spans.sort()
    merged = [spans[0]]
    for s, e, kind in spans[1:]:
        ps, pe, pk = merged[-1]
        if s < pe:
            merged[-1] = (ps, max(pe, e), kind if pk in _GENERIC and kind not in _GENERIC else pk)
        else:
            merged.append((s, e, kind))
    return merged


def apply(text: str, spans: list[Span]) -> tuple[str, Counter[str], int]:
    """Replace sorted, disjoint spans by placeholders: (text, counts per type, characters removed)."""
    counts: Counter[str] = Counter()
    if not spans:
        return text, counts, 0
    out, last, removed = [], 0, 0
    for s, e, kind in spans:
        out += [text[last:s], f"<REDACTED:{kind}>"]
        counts[kind] += 1
        removed += e - s
        last = e
    out.append(text[last:])
    return "".join(out), counts, removed


def _argv(items: list[str] | tuple[str, ...], r: Redactor, counts: Counter[str] | None) -> list[str]:
    """A list of strings read as one command line, so `["--password", "v"]` loses `v` too."""
    joined = " ".join(items)
    spans = r.find(joined)
    out, off = [], 0
    for item in items:
        end = off + len(item)
        own = [(max(s, off) - off, min(e, end) - off, k) for s, e, k in spans if s < end and e > off]
        text, c, _ = apply(item, [sp for sp in own if sp[1] > sp[0]])
        if counts is not None:
            counts.update(c)
        out.append(text)
        off = end + 1
    return out


# --- one process-wide redactor, and scrubbing any stored value --------------------------------

_default: Redactor | None = None


def configure(cfg: RedactConfig) -> Redactor:
    """Make `cfg` the process's redaction settings (the curation step's, in a harvest worker);
    returns the process's redactor, which curation shares with the store's write path."""
    global _default
    _default = Redactor(cfg, memo=True)
    return _default


def default_redactor() -> Redactor:
    global _default
    if _default is None:
        _default = Redactor(RedactConfig())
    return _default


def scrub(value: Any, redactor: Redactor | None = None, counts: Counter[str] | None = None,
          removed: list[int] | None = None) -> Any:
    """`value` with every string in it redacted (dicts, lists and tuples walked, keys included).

    `counts` collects redactions per type; `removed`, if given, gets the characters removed
    per string that had any (the caller decides what share is too much).
    """
    r = redactor or default_redactor()
    if isinstance(value, str):
        out, c, n = r.redact(value)
        if c:
            if counts is not None:
                counts.update(c)
            if removed is not None:
                removed.append(n)
        return out
    if isinstance(value, dict):
        return {scrub(k, r, counts): scrub(v, r, counts, removed) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > 1 and all(isinstance(v, str) for v in value):
            return type(value)(_argv(value, r, counts))
        return type(value)(scrub(v, r, counts, removed) for v in value)
    return value


def redact_text(text: str) -> str:
    """One string through the process's redactor (log lines, run messages)."""
    return default_redactor().redact(text)[0] if text else text


def scrub_candidate(c: Any, redactor: Redactor | None = None) -> Counter[str]:
    """Redact every field of a Candidate (any dataclass) in place; returns counts per type."""
    counts: Counter[str] = Counter()
    for f in dataclasses.fields(c):
        value = getattr(c, f.name)
        if isinstance(value, str | dict | list | tuple):
            setattr(c, f.name, scrub(value, redactor, counts))
    return counts

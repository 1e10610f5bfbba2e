"""Secret detectors that need context: named values, auth headers, URL passwords, CLI flags,
key blocks, an AWS secret near an AWS mention, emails.

Each detector takes (text, low, min_entropy) -- `low` is `text` lowercased with the same
length, `min_entropy` the configured floor for machine-made values -- and yields
(start, end, kind) spans of the secret value only; names and syntax around it stay.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

from aitherd.curate.secret_rules import (
    Span,
    entropy,
    is_placeholder,
    looks_like_code,
    name_kind,
    password_ok,
    token_ok,
)

_KIND = {"password": "password", "token": "generic_secret", "key": "generic_secret"}


def value_ok(kind: str, value: str, quoted: bool, min_entropy: float = 3.0) -> bool:
    if kind == "password":
        return password_ok(value, quoted)
    if kind == "key":  # a key with an unknown qualifier (`STRIPE_KEY`) must look machine-made
        return token_ok(value, min_len=16, min_entropy=min_entropy + 0.3)
    return token_ok(value, min_entropy=min_entropy)


# --- named values -----------------------------------------------------------------------------

# A secret word, then only a tail that keeps it the last word (`_value`, `_b64`, `2`), then
# an operator and a value. One scan per word: a literal first is what makes Python's `re` fast.
# Words inside longer names are found too (`db_password`, `apiKey`): the whole name is read
# back from there and `name_kind` decides.
_TAIL = r"(?:[_.\-]?(?:value|str|string|b64|base64|hex|raw|plain|plaintext|base|bytes|enc|encoded|literal|text|\d+))*"
_REST = (_TAIL + r"(?P<q>[\"'`\]]?)"
         r"(?P<op>[ \t]{0,16}(?::=|=>|=(?!=)|:(?:[ \t]*[a-z_][\w\[\], .|]{0,40}?[ \t]*=(?!=))?)"
         r"|(?<=[\"'])[ \t]*,|[ \t]+(?:is|was)[ \t]+)"
         r"[ \t]{0,4}"
         # up to MAX_TOKEN: a longer quoted value did not match at all, a longer bare one was cut
         # there and its tail left in the text (koel's cypress/fixtures/token.json: 356 characters)
         r"(?P<v>[bru]{0,2}\"[^\"\n]{0,4096}\"|[bru]{0,2}'[^'\n]{0,4096}'|`[^`\n]{1,4096}`|[^\s'\"`<]{1,4096})")
_NAMED = tuple((literal, re.compile(literal + rest + _REST)) for literal, rest in (
    ("pass", "(?:word|wd|phrase|code)?"), ("pw", "d?"), ("secret", ""), ("token", ""), ("key", ""),
    ("cred", "(?:entials?|s)"), ("auth", ""), ("hmac", "")))
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_PREV_WORD = re.compile(r"([A-Za-z]+)[ \t]$")
_UNQUOTED_END = re.compile(r"[;,<]|&\w+=|\\n")


def _value_span(text: str, start: int, end: int) -> tuple[int, int, bool]:
    """(start, end, quoted) of a matched value without quotes, prefixes and trailing punctuation."""
    v = text[start:end]
    i = 0
    while i < 2 and i < len(v) and v[i] in "bruBRU" and len(v) > i + 1 and v[i + 1] in "\"'":
        i += 1
    if v[i:i + 1] in ("\"", "'", "`") and len(v) - i >= 2 and v[-1] == v[i]:
        return start + i + 1, end - 1, True
    if i:
        return start, start, False
    cut = _UNQUOTED_END.search(v)
    if cut:
        v = v[: cut.start()]
    v = v.rstrip(".,;:)]}>")
    return start, start + len(v), False


def named_values(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    seen: set[int] = set()
    for literal, pattern in _NAMED:
        if literal not in low:
            continue
        for m in pattern.finditer(low):
            ns = m.start()
            while ns > 0 and low[ns - 1] in _NAME_CHARS:
                ns -= 1
            if ns in seen:
                continue
            seen.add(ns)
            span = _named(text, ns, m, min_entropy)
            if span is not None:
                yield span


def _named(text: str, ns: int, m: re.Match[str], min_entropy: float) -> Span | None:
    name = text[ns:m.start("q")].strip("-.")
    before = ""
    if ns > 1 and text[ns - 1] == " ":
        prev = _PREV_WORD.search(text, max(0, ns - 24), ns)
        before = prev.group(1) if prev else ""
    kind = name_kind(name, before)
    if kind is None:
        return None
    vs, ve, quoted = _value_span(text, m.start("v"), m.end("v"))
    value = text[vs:ve]
    if not value:
        return None
    op = m.group("op").strip()
    if op.startswith(","):  # `define('DB_PASSWORD', 'v')`: a call's first two arguments only
        j = ns - 2
        while j >= 0 and text[j] in " \t":
            j -= 1
        if not quoted or j < 0 or text[j] != "(":
            return None
    setting = (not quoted and _BARE_WORD.fullmatch(value) is not None and value not in _TYPE_WORDS
               and _config_line(text, ns, m, ve))
    if setting:
        quoted = True  # a setting's line: the word is its value, as if quoted
    elif _names_a_variable(value) and (not quoted or _NAME_SHAPE.search(value)):
        return None
    if not quoted:
        j = ns - 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        kwarg = j >= 0 and text[j] in "(," and op == "="  # f(a, password=pw); not "..., password: pw"
        if kwarg or name.lower().startswith(("self.", "this.")) or looks_like_code(value):
            return None
    return (vs, ve, _KIND[kind]) if value_ok(kind, value, quoted, min_entropy) else None


# A setting on a line of its own, where a bare word is text, not code: `PASSWORD=supersecret`
# (shell, .env, properties: the name first on its line, no space around "=") and `password:
# supersecret` (YAML: nothing but a comment after the value). Such a word, starting in lowercase
# or a digit, was taken for a variable and left whole. Not a type in an annotation (`password:
# string`, `password: SecretStr`).
_BARE_WORD = re.compile(r"[a-z0-9][\w.\-]*")  # xxl-job's `spring.datasource.password=root_pwd` too
_TYPE_WORDS = frozenset({"string", "str", "number", "int", "float", "bool", "boolean", "bytes", "any", "unknown",
                         "never", "void", "object", "symbol", "bigint", "none", "null", "nil", "undefined", "true",
                         "false", "yes", "no", "on", "off"})


def _config_line(text: str, ns: int, m: re.Match[str], ve: int) -> bool:
    start = text.rfind("\n", 0, ns) + 1
    if text[start:ns].strip() not in ("", "export", "-"):
        return False
    end = text.find("\n", ve)
    tail = text[ve:end if end >= 0 else len(text)].strip()
    op = m.group("op")
    if op == "=":
        return text[m.end("op"):m.start("v")] == "" and (not tail or tail.startswith("#"))
    return op.strip() == ":" and (not tail or tail.startswith("#"))


# A quoted value names a variable or a setting when it is shaped like one: words joined by `_`,
# `.` or `-`, or in camelCase (`"entity_token_2"`, `"DB_PASSWORD"`, `"authToken"`). A word of
# lowercase letters and digits is the value itself: `password: "mysecretpassword123"`,
# `password = "supersecret"` were left whole for holding the secret word "secret" or "password".
_NAME_SHAPE = re.compile(r"[_.\-]|[a-z][A-Z]")


def _names_a_variable(value: str) -> bool:
    """`entity_token_2`, `db_password`: an identifier that is itself a secret's name."""
    return re.fullmatch(r"[A-Za-z_]\w*", value) is not None and name_kind(value) is not None


_XML_CLOSE = re.compile(r"</([\w:.\-]{0,40}(?:pass|pwd|secret|token|key|cred|auth)[\w:.\-]{0,40})>")
_PLIST = re.compile(r"<key>([^<\n]{1,80})</key>\s*<string>([^<\n]{1,500})</string>")
_DOTNET = re.compile(r"<add\s+key\s*=\s*\"([^\"]{1,80})\"\s+value\s*=\s*\"([^\"\n]{1,500})\"", re.IGNORECASE)


def markup_values(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    """`<password>v</password>`, a plist `<key>ApiKey</key><string>v</string>`, .NET
    `<add key="SmtpPassword" value="v"/>`."""
    found: list[tuple[str, int, int]] = []  # (name, value start, value end)
    for m in _XML_CLOSE.finditer(low):
        line_start = low.rfind("\n", 0, m.start()) + 1
        opening = low.rfind("<" + m.group(1), line_start, m.start())
        gt = low.find(">", opening, m.start()) if opening >= 0 else -1
        if gt >= 0 and low[opening + 1 + len(m.group(1))] in "> \t":
            found.append((text[m.start(1):m.end(1)], gt + 1, m.start()))
    if "<key>" in low:
        found += [(m.group(1), m.start(2), m.end(2)) for m in _PLIST.finditer(text)]
    if "<add" in low:
        found += [(m.group(1), m.start(2), m.end(2)) for m in _DOTNET.finditer(text)]
    for name, vs, ve in found:
        kind = name_kind(name)
        if kind is None:
            continue
        raw = text[vs:ve]
        lead = len(raw) - len(raw.lstrip())
        value = raw.strip()
        if value and value_ok(kind, value, True, min_entropy):
            yield vs + lead, vs + lead + len(value), _KIND[kind]


# --- auth headers, CLI, netrc, URLs -----------------------------------------------------------

_BASIC = re.compile(r"basic[ \t]+([a-z0-9+/]{6,}={0,2})(?![\w+/=])")
_BEARER = tuple(re.compile(w + r"[ \t]+([a-z0-9\-._~+/]{12,}=*)(?![\w\-.~+/=])") for w in ("bearer", "token"))
_AUTHZ = re.compile(r"authorization[\"']?[ \t]*[:=,][ \t]*[\"']?(?:(?:bearer|token|apikey|key|sso-key)[ \t]+)?"
                    r"([a-z0-9\-._~+/:=]{12,})")
_PAIR = tuple(re.compile(w + r"\w*\s*[=(:]\s*(?:new\s+\w+\s*\()?\(?\s*([\"'])[^\"'\n]{1,64}\1\s*,\s*"
                         r"([\"'])([^\"'\n]{1,128})\2") for w in ("auth", "credential", "login"))
_CURL_U = re.compile(r" (?:-u|--user)[ \t]+([\"']?)[^\s:'\"]+:([^\s'\"]+)\1")
_DASH_P = re.compile(r" -p(?:([^\s'\"\-][^\s'\"]*)|[ \t]+([\"']?)([^\s'\"]+)\2)")
_FLAG = re.compile(r"--([\w-]*(?:password|passwd|token|secret|api-key|apikey))[ \t]+([\"']?)([^\s'\"]+)\2")
_NETRC = re.compile(r"password[ \t]+(\S+)")
_NETRC_BEFORE = re.compile(r"\b(?:login|user)[ \t]+\S+[ \t]+$")


def _line_before(low: str, i: int) -> str:
    return low[low.rfind("\n", 0, i) + 1:i]


def _starts_word(low: str, i: int) -> bool:
    return i == 0 or not (low[i - 1].isalnum() or low[i - 1] == "_")


def _basic_ok(value: str) -> bool:
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    _, sep, pw = decoded.partition(":")
    return bool(sep) and decoded.isprintable() and bool(pw) and not is_placeholder(pw)


def auth_values(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    for m in _BASIC.finditer(low):
        if _starts_word(low, m.start()) and _basic_ok(text[m.start(1):m.end(1)]):
            yield m.start(1), m.end(1), "basic_auth"
    for pattern in _BEARER:
        for m in pattern.finditer(low):
            if _starts_word(low, m.start()) and token_ok(text[m.start(1):m.end(1)].rstrip("="), 12, min_entropy):
                yield m.start(1), m.end(1), "bearer_token"
    for m in _AUTHZ.finditer(low):
        if token_ok(text[m.start(1):m.end(1)], 12, min_entropy):
            yield m.start(1), m.end(1), "auth_header"
    for pattern in _PAIR:
        for m in pattern.finditer(low):
            if password_ok(text[m.start(3):m.end(3)], True):
                yield m.start(3), m.end(3), "password"


def cli_values(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    for m in _CURL_U.finditer(low):
        if re.search(r"\b(?:curl|wget|http)\b", _line_before(low, m.start())) and password_ok(
                text[m.start(2):m.end(2)], True):
            yield m.start(2), m.end(2), "password"
    for m in _DASH_P.finditer(low):
        before = _line_before(low, m.start())
        g = 1 if m.group(1) else 3
        tool = r"\b(?:mysql|mariadb)\w*\b" if g == 1 else r"\b(?:sshpass|login)\b"
        if re.search(tool, before) and password_ok(text[m.start(g):m.end(g)], True):
            yield m.start(g), m.end(g), "password"
    for m in _FLAG.finditer(low):
        kind = name_kind(m.group(1))
        vs, ve = m.start(3), m.end(3)
        if kind and value_ok(kind, text[vs:ve], True, min_entropy) and not looks_like_code(text[vs:ve]):
            yield vs, ve, _KIND[kind]
    for m in _NETRC.finditer(low):
        if _NETRC_BEFORE.search(_line_before(low, m.start())) and password_ok(text[m.start(1):m.end(1)], True):
            yield m.start(1), m.end(1), "password"


_URL_AUTH = re.compile(r"://(?P<u>[^\s:/@'\"<>]*):(?P<p>[^\s'\"<>]+)@(?P<h>\[[0-9A-Fa-f:.]+\]|[\w\-]+(?:\.[\w\-]+)*)"
                       r"(?::\d{1,5})?(?=[/?#\s'\"),;\]`]|$)")


def url_passwords(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    i = text.find("://")
    while i != -1:
        m = _URL_AUTH.match(text, i)
        if m:
            pw = m.group("p")
            user = m.group("u")
            if not re.match(r"\d{1,5}(?:[/,]|$)", pw) and pw != user and password_ok(pw, True):
                yield m.start("p"), m.end("p"), "url_password"
        i = text.find("://", i + 3)


# --- key blocks, AWS secrets in prose, emails -------------------------------------------------

_PEM_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_BODY = re.compile(r"(?:\\n|\r?\n|[ \t])*[+ \t\"']*((?:[A-Za-z0-9+/=]{8,}|[A-Za-z][\w\-]*: [^\n\\]*)"
                       r"(?:(?:\\n|\r?\n)[+ \t\"']*(?:[A-Za-z0-9+/=]{4,}|[A-Za-z][\w\-]*: [^\n\\]*|))*)")


def private_keys(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    for m in _PEM_BEGIN.finditer(text):
        body = _PEM_BODY.match(text, m.end())
        if body and body.group(1):
            s, e = body.start(1), body.end(1)
            tail = re.search(r"(?:\\n|\s)+$", text[s:e])
            yield s, e - (len(tail.group()) if tail else 0), "private_key"


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=")
_B64_40 = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_MENTION = (re.compile(r"aws(?<![a-z]aws)(?![a-z])"), re.compile(r"A[KS]IA(?<![A-Za-z0-9]....)[A-Z0-9]{16}"))


def aws_secrets(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    """A 40-character AWS secret access key within 300 characters of an AWS mention."""
    windows = [(max(0, m.start() - 300), m.end() + 300) for m in _AWS_MENTION[0].finditer(low)]
    windows += [(max(0, m.start() - 300), m.end() + 300) for m in _AWS_MENTION[1].finditer(text)]
    done: set[int] = set()
    for ws, we in windows:
        for m in _B64_40.finditer(text, ws, we):
            v = m.group()
            if m.start() in done or text[m.end():m.end() + 1] in _B64_CHARS or not (
                    any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)):
                continue  # (a longer token cut by the window's end is not one)
            done.add(m.start())
            if entropy(v) >= 4.0 and not is_placeholder(v):
                yield m.start(), m.end(), "aws_secret_key"


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
_EMAIL_DOMAIN = re.compile(rf"@({_LABEL}(?:\.{_LABEL})*\.([A-Za-z]{{2,24}}))(?![\w\-]|\.[A-Za-z0-9])")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}$")
_TLDS = frozenset({
    "com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "io", "ai",
    "dev", "app", "cloud", "tech", "online", "site", "xyz", "email", "me", "co", "tv", "ly", "sh",
    "gg", "so", "to", "fm", "cc", "ws", "mobi", "asia", "jobs", "museum", "aero", "travel", "coop",
})
_SAFE_DOMAIN = re.compile(r"(?:.*\.)?(?:example|test|invalid|localhost)(?:\.[a-z]+)?$|localhost$", re.IGNORECASE)


def emails(text: str, low: str, min_entropy: float = 3.0) -> Iterator[Span]:
    for m in _EMAIL_DOMAIN.finditer(text):
        at = m.start()
        local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
        if local is None or local.group().startswith("."):
            continue
        tld = m.group(2).lower()
        if (len(tld) != 2 and tld not in _TLDS) or _SAFE_DOMAIN.match(m.group(1)):
            continue
        if local.group() == "git" or text[m.end():m.end() + 1] == ":":  # git@host:org/repo
            continue
        if text[max(0, local.start() - 3):local.start()] == "://":  # a URL's user, not an email
            continue
        yield local.start(), m.end(), "email"

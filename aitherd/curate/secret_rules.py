"""Secret detectors: each finds (start, end, kind) spans of secret values in a text.

Three families, all cheap on clean text (gitleaks style: a keyword gate, then precise checks):
- provider tokens with a known shape (`AKIA...`, `ghp_...`, `sk_live_...`, JWTs, key blocks);
- named values: a name whose last word is a secret word (`password`, `DB_PASS`, `api_key`,
  `signingKey`, `HMAC_KEY`, `client_secret`, `authToken`) given a value by `=`, `:`, `:=`,
  `=>`, `is`, an XML element, a plist or .NET pair, a CLI flag; the name is split into words,
  so `tokenizer_name` and `secretHash` are not secret names;
- credentials by context: URL userinfo (`scheme://user:pass@host`, the password may hold `/`,
  `#` or `@`), `Authorization: Basic|Bearer|Token ...`, `curl -u`, `mysql -p`, netrc lines,
  an AWS secret near an AWS mention, emails.
Every value passes a placeholder check (`AKIAIOSFODNN7EXAMPLE`, `sk-xxxx`, `your-...`,
`${VAR}`, `<token>`, `changeme`) and, for unquoted values, a code check (`os.environ[...]`,
`self.password`, `None`): those are left alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Span = tuple[int, int, str]


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


# --- value checks -----------------------------------------------------------------------------

_PLACEHOLDER_EXACT = re.compile(
    r"(?:none|null|nil|undefined|true|false|changeme|change[_-]?me|password|passwd|pass|secret|token|"
    r"api[_-]?key|key|example|redacted|dummy|test|testing|sample|placeholder|admin|root|guest|user|"
    r"username|default|foo|bar|baz|qwerty|letmein|string|str|bytes|value|empty|hidden|required)",
    re.IGNORECASE,
)
# Passwords of documentation and dev defaults (scott/tiger, postgres/postgres, password1).
_DEMO_PASSWORD = re.compile(
    r"(?:password|passwd|pass|secret|test|admin|root|guest|demo|user|tiger|postgres|mysql|changeme|letmein|"
    r"qwerty|foo|bar|foobar|hunter|pwd|pw)\d{0,4}!?",
    re.IGNORECASE,
)
_PLACEHOLDER_PART = re.compile(
    r"example|your[_\-\s]?|xxxx|placeholder|change[_-]?me|redacted|dummy|fake|sample|insert[_-]|"
    r"replace[_-]?(?:me|with|this)|<[^>]*>|\$\{|\{\{|\$\(|%\(|\*\*\*|\.\.\.|…|0123456789|123456789|"
    r"abcdef(?:gh|01)|lorem|todo|fixme|here$",
    re.IGNORECASE,
)
_TEMPLATE = re.compile(r"^(?:\$\w+|\$\{.*\}|\{.*\}|%[sdr]|%\(\w+\)[sdr]|:\w+|@\w+@?|\?)$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")  # a variable's name, not its value


def is_placeholder(value: str) -> bool:
    v = value.strip()
    if not v or _PLACEHOLDER_EXACT.fullmatch(v) or _DEMO_PASSWORD.fullmatch(v) or _TEMPLATE.match(v):
        return True
    if _PLACEHOLDER_PART.search(v):
        return True
    core = re.sub(r"^(?:[a-z]{2,8}[-_]){1,3}", "", v)  # sk-, ghp_, xoxb-, sk_live_ prefixes
    if (len(core) >= 8 and len(set(core.lower())) <= 3) or (len(v) >= 6 and len(set(v.lower())) <= 2):
        return True
    return _ENV_NAME.match(v) is not None


_CODE_WORDS = frozenset({
    "none", "null", "nil", "undefined", "true", "false", "self", "this", "str", "int", "bytes",
    "bool", "float", "string", "optional", "any", "list", "dict", "object", "new", "await", "yield",
    "lambda", "not", "and", "or", "return",
})
_IDENT_PATH = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")


def looks_like_code(value: str) -> bool:
    """An unquoted value that is an expression: a name, an attribute, a call, a template."""
    v = value
    if v.lower() in _CODE_WORDS or v[:1] in "$%{<([&*!@:":
        return True
    if any(c in v for c in "()[]{}"):
        return True
    if _IDENT_PATH.fullmatch(v):
        return "." in v or not any(c.isdigit() for c in v)
    return False


def _classes(v: str) -> int:
    return (any(c.islower() for c in v) + any(c.isupper() for c in v) + any(c.isdigit() for c in v)
            + any(not c.isalnum() for c in v))


def password_ok(value: str, quoted: bool) -> bool:
    v = value
    if len(v) < 4 or len(v) > 128 or any(c.isspace() for c in v) or is_placeholder(v):
        return False
    if quoted:
        return not _TEMPLATE.match(v)
    if looks_like_code(v):
        return False
    if v.isdigit():
        return len(v) >= 6
    return any(c.isdigit() for c in v) or any(c in "!@#$%^&*+=?~/|" for c in v)


MAX_TOKEN = 4096  # a named value this long is still a token (a JWT with many claims, a license token)
_UPPER_PAIR = re.compile(r"[A-Z](?=[A-Z])")
_LOWER_UPPER = re.compile(r"[a-z](?=[A-Z])")


def _random_letters(value: str) -> bool:
    """Letters only, in a random mix of cases, after a prefix (`app-`, `sk_`): a key that happens
    to hold no digit (xxl-job's `dify.api-key=app-OUVgNUOQRIMokfmuJvBJoUTN`). A name in
    camelCase or capitals has its capitals one at a time, or all of them, not both often."""
    body = re.split(r"[-_]", value)[-1]
    if len(body) < 20 or not body.isascii() or not body.isalpha():
        return False
    upper = sum(c.isupper() for c in body)
    return (0.3 <= upper / len(body) <= 0.7 and len(_UPPER_PAIR.findall(body)) >= 4
            and len(_LOWER_UPPER.findall(body)) >= 4)


def token_ok(value: str, min_len: int = 8, min_entropy: float = 3.0) -> bool:
    """A machine-made secret: long enough, letters and digits, no spaces, not a placeholder."""
    v = value
    if not min_len <= len(v) <= MAX_TOKEN or any(c.isspace() for c in v) or is_placeholder(v):
        return False
    if _random_letters(v):
        return entropy(v) >= min_entropy
    if "://" in v or v[:1] in "/~." or v.isdigit() or (looks_like_code(v) and not any(c.isdigit() for c in v)):
        return False
    if not (any(c.isdigit() for c in v) and any(c.isalpha() for c in v)):
        return False
    if re.fullmatch(r"v?\d+(?:\.\d+)+\w*", v):  # a version
        return False
    return entropy(v) >= min_entropy


# --- names ------------------------------------------------------------------------------------

_SEGMENTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_PASSWORD_WORDS = frozenset({"password", "passwd", "pwd", "pw", "pass", "passphrase", "passcode"})
_TOKEN_WORDS = frozenset({"secret", "token", "apikey", "credential", "credentials", "creds", "auth", "hmac"})
_KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "signing", "sign", "session", "hmac", "encryption",
    "encrypt", "crypto", "cipher", "master", "client", "auth", "app", "application", "service",
    "account", "storage", "subscription", "consumer", "shared", "license", "admin", "webhook",
    "jwt", "aes", "des", "gpg", "pgp", "ssh", "rsa", "deploy", "server", "root", "backend",
    "cookie", "csrf", "token", "otp", "totp", "mfa", "ingest", "integration", "partner", "merchant",
    "publishable", "live", "prod", "production",
})
_TRAILING = frozenset({
    "value", "str", "string", "b64", "base64", "hex", "raw", "plain", "plaintext", "base", "bytes",
    "enc", "encoded", "literal", "text",
})


def name_kind(name: str, before: str = "") -> str | None:
    """"password", "token" or "key" when `name` names a secret, else None.

    The last word decides (`secret_hash` is a hash, `tokenizer_name` a name); `key` needs a
    qualifier in front (`api_key`, `HMAC_KEY`, or the word before it in prose: "secret key").
    """
    segs = [s.lower() for s in _SEGMENTS.findall(name)]
    while segs and (segs[-1] in _TRAILING or segs[-1].isdigit()):
        segs.pop()
    if not segs or (segs[0] in ("self", "this") and len(segs) == 1):
        return None
    last = segs[-1]
    if "public" in segs or "publishable" in segs:  # `publicKeyToken`, `public_key`: not secret
        return None
    if last in _PASSWORD_WORDS or last.endswith(("password", "passwd")):
        return "password"
    if last in _TOKEN_WORDS or last.endswith(("secret", "token", "apikey")):
        return "token"
    if last == "key" or last.endswith("apikey"):
        qual = segs[-2] if len(segs) > 1 else before.lower()
        if qual in _KEY_QUALIFIERS:
            return "token"
        return "key" if len(segs) > 1 else None
    return None


# --- provider tokens -------------------------------------------------------------------------
# Every pattern starts with a literal (Python's `re` then scans as fast as `str.find`); the
# left word boundary is a lookbehind placed after that literal, for the same reason.


def _not_placeholder(v: str) -> bool:
    return not is_placeholder(v)


def _token_shaped(v: str) -> bool:
    """A token after a provider prefix: not a placeholder, not a run of a few characters."""
    return not is_placeholder(v) and entropy(v) >= 3.0


def _openai_shaped(v: str) -> bool:  # `sk-` alone is a weak prefix: digits too
    return _token_shaped(v) and any(c.isdigit() for c in v)


@dataclass(frozen=True)
class Provider:
    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = _token_shaped
    back: str = ""  # characters just before the match that still belong to the token
    gate: str = ""  # for a case-insensitive pattern: a keyword of the lowercased text

    def find(self, text: str, low: str) -> Iterator[Span]:
        if self.gate and self.gate not in low:
            return
        g = 1 if self.pattern.groups else 0
        for m in self.pattern.finditer(text):
            s, e = m.start(g), m.end(g)
            while self.back and s > 0 and text[s - 1] in self.back and m.start(g) - s < 10:
                s -= 1
            if self.back and (s == m.start(g) or (s > 0 and (text[s - 1].isalnum() or text[s - 1] == "_"))):
                continue
            if self.check is None or self.check(text[s:e]):
                yield s, e, self.kind


_P = re.compile
PROVIDERS: tuple[Provider, ...] = (
    Provider("aws_access_key", _P(r"A(?:KIA|SIA|BIA|CCA)(?<![A-Za-z0-9].{4})[A-Z0-9]{16}(?![A-Za-z0-9])"),
             _not_placeholder),
    Provider("gcp_api_key", _P(r"AIza(?<![\w-].{4})[0-9A-Za-z_\-]{35}(?![\w-])"), _not_placeholder),
    Provider("gcp_oauth", _P(r"ya29\.(?<![\w.].{5})[\w\-]{20,}")),
    Provider("gcp_oauth", _P(r"GOCSPX-(?<!\w.{7})[\w\-]{24,}")),
    Provider("github_token", _P(r"gh(?<!\wgh)(?:[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{22,255})(?!\w)")),
    Provider("gitlab_token", _P(r"gl(?<!\wgl)(?:pat|ptt|dt|rt|cbt)-[A-Za-z0-9_\-]{20,}")),
    Provider("anthropic_key", _P(r"sk-(?<![\w-]sk-)ant-[a-z]+\d{0,3}-[A-Za-z0-9_\-]{32,}")),
    Provider("openai_key", _P(r"sk-(?<![\w-]sk-)(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
             _openai_shaped),
    Provider("hf_token", _P(r"hf_(?<!\whf_)[A-Za-z0-9]{30,40}(?!\w)")),
    Provider("npm_token", _P(r"npm_(?<!\wnpm_)[A-Za-z0-9]{36}(?!\w)")),
    Provider("pypi_token", _P(r"pypi-(?<!\wpypi-)[A-Za-z0-9_\-]{50,}")),
    Provider("slack_token", _P(r"x(?:ox[abposr]|app)-(?<!\w.{5})[A-Za-z0-9\-]{10,}")),
    Provider("slack_webhook", _P(r"https://hooks\.slack\.com/services/([A-Za-z0-9/_]+)"), None),
    Provider("discord_webhook", _P(r"https://discord(?:app)?\.com/api/webhooks/\d+/([\w\-]{20,})"), None),
    Provider("stripe_key", _P(r"k_(?:live|test)_(?<=[rs]k_...._)[A-Za-z0-9]{16,}"), back="rs"),
    Provider("stripe_key", _P(r"whsec_(?<!\wwhsec_)[A-Za-z0-9+/=]{24,}")),
    Provider("sendgrid_key", _P(r"SG\.(?<!\wSG\.)[\w\-]{16,32}\.[\w\-]{32,64}")),
    Provider("digitalocean_token", _P(r"do[por]_v1_(?<!\w.{7})[a-f0-9]{64}(?![a-f0-9])")),
    Provider("shopify_token", _P(r"shp(?:at|ss|ca|pa)_(?<!\w.{6})[a-fA-F0-9]{32}(?!\w)")),
    Provider("telegram_token", _P(r":AA(?<=\d:AA)[0-9A-Za-z_\-]{33}(?![\w-])"), back="0123456789"),
    Provider("azure_storage_key", _P(r"(?i)AccountKey=([A-Za-z0-9+/]{40,100}={0,2})"), None, gate="accountkey="),
    Provider("azure_sas", _P(r"sig=(?<=[?&;]sig=)([A-Za-z0-9%/+=]{30,})"), None),
    Provider("jwt", _P(r"eyJ(?<![\w-]eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
             _not_placeholder),
)

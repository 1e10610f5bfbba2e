"""Base-model families: their turn and think markup and FIM tokens (read from the tokenizer when
one is configured).

Token strings were checked against the upstream tokenizers (their tokenizer.json files) and
chat templates: the DeepSeek-R1 distills of Qwen use Qwen2.5's FIM tokens and open every answer
with `<think>\n` (an answer without reasoning is `<think>\n\n</think>\n\n`); DeepSeek-Coder
uses full-width bars (U+FF5C) and U+2581; Gemma 4 marks a thought as a `thought` channel,
switched on by `<|think|>` at the top of the system turn, and with thinking off its template
opens the answer with an empty channel `<|channel>thought\n<channel|>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitherd import errors


class TokenizerError(errors.InputError):
    """A configured token is not a single token of the family's tokenizer."""


@dataclass(frozen=True)
class Fim:
    prefix: str
    suffix: str
    middle: str
    order: str = "psm"  # prefix, suffix, then the model writes the middle

    def prompt(self, prefix: str, suffix: str) -> str:
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"


@dataclass(frozen=True)
class Family:
    name: str
    think_open: str | None  # None: the family has no thinking markup
    think_close: str | None
    fim: Fim
    # A system turn that switches thinking on (Gemma 4), or None.
    think_system: str | None = None
    # How an answer without reasoning is shaped: an empty think block ("empty") for models
    # whose template opens one at generation time (R1 distills, Gemma 4), or as is ("none").
    no_think: str = "empty"
    # Turn markup for measuring lengths as the trainer renders them (see render.py); exact for
    # the families aitherd has a training template for, an estimate for the others.
    markup: str = "r1"
    bos: str = ""
    eos: str = ""

    def wrap(self, reasoning: str | None, answer: str) -> str:
        if self.think_open is None or self.think_close is None:
            return answer
        if reasoning:
            return f"{self.think_open}{reasoning.strip()}{self.think_close}{answer}"
        if self.no_think == "empty":
            return f"{self.think_open}{self.think_close}{answer}"
        return answer


_R1_BOS, _R1_EOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>"
_QWEN_FIM = Fim("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")

FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        Family("deepseek-r1-distill-qwen", "<think>\n", "\n</think>\n\n", _QWEN_FIM,
               markup="r1", bos=_R1_BOS, eos=_R1_EOS),
        Family("qwen2.5-coder", None, None, _QWEN_FIM, markup="chatml", eos="<|im_end|>"),
        Family("deepseek-coder", None, None,
               Fim("<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581hole\uff5c>",
                   "<\uff5cfim\u2581end\uff5c>"), markup="deepseek-coder", bos=_R1_BOS, eos="<|EOT|>"),
        Family("gemma", "<|channel>thought\n", "<channel|>", _QWEN_FIM,
               think_system="<|think|>", no_think="empty", markup="gemma4", bos="<bos>", eos="<turn|>"),
        Family("gemma3", None, None, _QWEN_FIM, markup="gemma", bos="<bos>", eos="<end_of_turn>"),
    )
}

# Substrings by which FIM tokens are recognised in a tokenizer's added tokens.
_FIM_HINTS = {"prefix": ("fim_prefix", "fim\u2581begin"), "suffix": ("fim_suffix", "fim\u2581hole"),
              "middle": ("fim_middle", "fim\u2581end")}


def load_tokenizer(path: str) -> Any:
    """A `tokenizers.Tokenizer` from a tokenizer.json or a directory holding one."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise TokenizerError("reading a tokenizer needs the `tokenizers` package "
                             "(pip install 'aitherd[train]')") from None
    p = Path(path).expanduser()
    file = p / "tokenizer.json" if p.is_dir() else p
    if not file.is_file():
        raise TokenizerError(f"{path}: no tokenizer.json there")
    return Tokenizer.from_file(str(file))


def _single_token(tok: Any, text: str) -> bool:
    return tok.token_to_id(text) is not None and len(tok.encode(text, add_special_tokens=False).ids) == 1


def resolve_fim(family: Family, tokenizer: Any | None, override: Any | None = None) -> Fim:
    """FIM tokens: explicit config, else the tokenizer's own, else the family table; each is
    checked to be one token of the tokenizer when there is one."""
    chosen = {"prefix": family.fim.prefix, "suffix": family.fim.suffix, "middle": family.fim.middle}
    if tokenizer is not None:
        added = [t for t in tokenizer.get_vocab(with_added_tokens=True)]
        for role, hints in _FIM_HINTS.items():
            found = sorted(t for t in added if any(h in t for h in hints) and len(t) < 24)
            if found:
                chosen[role] = found[0]
    for role in chosen:
        value = getattr(override, f"fim_{role}", None) if override is not None else None
        if value:
            chosen[role] = value
    if tokenizer is not None:
        for role, text in chosen.items():
            if not _single_token(tokenizer, text):
                raise TokenizerError(
                    f"family {family.name}: FIM {role} token {text!r} is not a single token of "
                    f"the configured tokenizer; set export.family.{family.name}.fim_{role}")
    return Fim(chosen["prefix"], chosen["suffix"], chosen["middle"], family.fim.order)

"""Records as the trainer sees them, measured in tokens and fitted to the specialist's max_length.

`render` gives the text before the trained part (prompt) and the trained part (completion, its
end token included) with the family's turn markup: for DeepSeek-R1 distills this is exactly
what aitherd's training template renders (aitherd.train.templates; a test holds them together),
for the other families an estimate. A FIM record is raw text, as an editor sends it to a
completions endpoint: the tokenizer's BOS (where it adds one), the FIM prompt, then the middle
and the end-of-sequence token as the trained part.

`fit` never cuts an answer: an over-long record loses its oldest turns (multi-turn chat) or
the far ends of its prefix and suffix (FIM) when that is enough, and is dropped otherwise;
every trim and drop is counted by reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aitherd.export.families import Family

_R1_USER, _R1_ASSISTANT = "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>"


@dataclass(frozen=True)
class Rendered:
    prompt: str
    completion: str


def _system(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "system"), "")


def render_chat(family: Family, messages: list[dict[str, str]]) -> Rendered:
    """Prompt and trained text of a conversation whose last turn is the assistant's."""
    if not messages or messages[-1]["role"] != "assistant":
        return Rendered("", "")  # nothing to train on: `fit` drops it
    *history, last = messages
    if family.markup == "r1":  # = aitherd.train.templates.DEEPSEEK_R1_DISTILL
        out = [family.bos, _system(messages)]
        for m in history:
            if m["role"] == "user":
                out.append(_R1_USER + m["content"])
            elif m["role"] == "assistant":  # earlier answers: as the stock template shows them
                out.append(_R1_ASSISTANT + m["content"].split("</think>")[-1] + family.eos)
        return Rendered("".join(out) + _R1_ASSISTANT, last["content"] + family.eos)
    if family.markup == "gemma":  # = aitherd.train.templates.GEMMA (Gemma 2/3 turns)
        turns = messages[1:] if messages[0]["role"] == "system" else messages
        prefix = messages[0]["content"] + "\n\n" if messages[0]["role"] == "system" else ""
        out = [family.bos]
        for i, m in enumerate(turns[:-1]):
            role = "model" if m["role"] == "assistant" else m["role"]
            out.append(f"<start_of_turn>{role}\n{prefix if i == 0 else ''}{m['content'].strip()}<end_of_turn>\n")
        return Rendered("".join(out) + "<start_of_turn>model\n", last["content"].strip() + "<end_of_turn>\n")
    if family.markup == "gemma4":
        out = [family.bos]
        for m in history:
            role = "model" if m["role"] == "assistant" else m["role"]
            out.append(f"<|turn>{role}\n{m['content'].strip()}<turn|>\n")
        return Rendered("".join(out) + "<|turn>model\n", last["content"] + "<turn|>\n")
    if family.markup == "deepseek-coder":
        out = [family.bos, _system(messages)]
        for m in history:
            if m["role"] == "user":
                out.append(f"### Instruction:\n{m['content']}\n")
            elif m["role"] == "assistant":
                out.append(f"### Response:\n{m['content']}\n{family.eos}\n")
        return Rendered("".join(out) + "### Response:\n", last["content"] + f"\n{family.eos}")
    out = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in history]  # ChatML
    return Rendered("".join(out) + "<|im_start|>assistant\n", last["content"] + family.eos)


def render_fim(family: Family, prompt: str, middle: str, eos: str | None = None) -> Rendered:
    return Rendered(family.bos + prompt, middle + (eos if eos is not None else family.eos))


def render(family: Family, record: dict[str, Any]) -> Rendered:
    if record.get("format") == "fim":
        return render_fim(family, record["prompt"], record["completion"])
    return render_chat(family, record["messages"])


class TokenCounter:
    """Token counts: the tokenizer's when there is one, else characters / 4 (an estimate)."""

    def __init__(self, tokenizer: Any | None) -> None:
        self.tokenizer = tokenizer
        self.exact = tokenizer is not None

    def many(self, texts: list[str]) -> list[int]:
        if self.tokenizer is None:
            return [len(t) // 4 for t in texts]
        out: list[int] = []
        for start in range(0, len(texts), 1024):  # chunks: Encodings hold offsets and more
            batch = self.tokenizer.encode_batch(texts[start:start + 1024], add_special_tokens=False)
            out += [len(e.ids) for e in batch]
        return out

    def one(self, text: str) -> int:
        return self.many([text])[0]


@dataclass
class FitReport:
    max_length: int
    exact: bool
    kept: int = 0
    trimmed: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "exact": self.exact, "kept": self.kept,
                "trimmed": dict(self.trimmed), "dropped": dict(self.dropped)}


def fit(records: list[dict[str, Any]], family: Family, tokenizer: Any | None, max_length: int,
        fim_prompt: Any = None) -> tuple[list[dict[str, Any]], FitReport]:
    """Keep the records that fit `max_length` tokens (trimming context where that is enough).
    Without a tokenizer nothing is dropped: lengths are only estimated, and the trainer drops
    what is over with the real tokenizer (counted in its run)."""
    count = TokenCounter(tokenizer)
    report = FitReport(max_length, count.exact)
    rendered = [render(family, r) for r in records]
    prompt_n = count.many([x.prompt for x in rendered])
    completion_n = count.many([x.completion for x in rendered])
    kept: list[dict[str, Any]] = []
    for r, x, p, c in zip(records, rendered, prompt_n, completion_n, strict=True):
        if not x.completion:
            report.dropped["no_answer"] += 1
            continue
        total = p + c
        if total <= max_length or not count.exact:
            report.lengths.append(total)
            kept.append(r)
            continue
        if c >= max_length:
            report.dropped["answer_over_max_length"] += 1
            continue
        trimmed = _trim_fim(r, family, count, max_length - c, fim_prompt) if r.get("format") == "fim" \
            else _trim_turns(r, family, count, max_length)
        if trimmed is None:
            report.dropped["prompt_over_max_length"] += 1
            continue
        r, total = trimmed
        report.trimmed["fim_context" if r.get("format") == "fim" else "earlier_turns"] += 1
        report.lengths.append(total)
        kept.append(r)
    report.kept = len(kept)
    return kept, report


def _trim_turns(r: dict[str, Any], family: Family, count: TokenCounter, max_length: int
                ) -> tuple[dict[str, Any], int] | None:
    """Drop the oldest user/assistant exchanges (system turn and last question kept)."""
    messages = list(r["messages"])
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = messages[len(system):]
    while True:
        # the first turn kept must be the user's: drop up to the next user turn
        nxt = next((i for i in range(1, len(turns) - 1) if turns[i]["role"] == "user"), None)
        if nxt is None:
            return None
        turns = turns[nxt:]
        candidate = system + turns
        x = render_chat(family, candidate)
        total = count.one(x.prompt) + count.one(x.completion)
        if total <= max_length:
            return {**r, "messages": candidate}, total


def _trim_fim(r: dict[str, Any], family: Family, count: TokenCounter, budget: int, fim: Any
              ) -> tuple[dict[str, Any], int] | None:
    """Shorten the prefix from its start and the suffix from its end, whole lines at a time,
    until the prompt fits `budget` tokens (the middle is never touched)."""
    if fim is None:
        return None
    prefix = r["fim_prefix"].splitlines(keepends=True)
    suffix = r["fim_suffix"].splitlines(keepends=True)
    sizes_p, sizes_s = count.many(prefix), count.many(suffix)
    overhead = count.one(render_fim(family, fim.prompt("", ""), "", eos="").prompt)
    total_c = count.one(render_fim(family, "", r["completion"]).completion)
    while prefix or suffix:
        if overhead + sum(sizes_p) + sum(sizes_s) <= budget:
            p, s = "".join(prefix), "".join(suffix)
            prompt = fim.prompt(p, s)
            exact = count.one(render_fim(family, prompt, "").prompt)
            if exact <= budget:
                return {**r, "fim_prefix": p, "fim_suffix": s, "prompt": prompt}, exact + total_c
        if sum(sizes_p) >= sum(sizes_s) and prefix:
            prefix.pop(0)
            sizes_p.pop(0)
        elif suffix:
            suffix.pop()
            sizes_s.pop()
        else:
            prefix.pop(0)
            sizes_p.pop(0)
    return None


def histogram(lengths: list[int], exact: bool) -> dict[str, Any]:
    buckets = (256, 512, 1024, 2048, 4096, 8192)
    hist: Counter[str] = Counter()
    for n in lengths:
        hist[next((f"<= {b}" for b in buckets if n <= b), f"> {buckets[-1]}")] += 1
    ordered = [f"<= {b}" for b in buckets] + [f"> {buckets[-1]}"]
    srt = sorted(lengths)
    return {
        "unit": "tokens, as the trainer renders each record" if exact
        else "estimated tokens (characters / 4; configure a tokenizer for exact counts)",
        "count": len(srt), "mean": round(sum(srt) / len(srt), 1) if srt else 0,
        "p50": srt[len(srt) // 2] if srt else 0, "p95": srt[int(len(srt) * 0.95)] if srt else 0,
        "max": srt[-1] if srt else 0, "histogram": {b: hist.get(b, 0) for b in ordered},
    }

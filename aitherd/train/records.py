"""Export records -> token ids and labels, the way each record type is served.

- `chat`: the conversation through the training chat template; loss on the final assistant
  turn and its end token only (`{% generation %}` marks it), or on everything when
  assistant_only_loss is off.
- `fim`: raw text, no chat template, as an editor sends it to a completions endpoint: the
  tokenizer's own special tokens (BOS where it adds one) + prompt, then middle + EOS; loss on
  the middle and the EOS only.

TRL 1.x trains such a dataset as it is: a dataset with `input_ids` is taken as processed and a
`labels` column is used as given (-100 = no loss), so chat and FIM records can be mixed in one
run, which neither of TRL's own formats allows (the mix is not one schema).

A record longer than max_length is dropped, never truncated (that would cut the answer and its
end token); so is a record with no trainable token. Both are counted by reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

IGNORE = -100


def encode(row: dict[str, Any], tokenizer: Any, template: str | None, assistant_only: bool
           ) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one export record."""
    if row.get("format") == "fim":
        prompt = tokenizer(row["prompt"], add_special_tokens=True)["input_ids"]
        middle = tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
        middle = [*middle, tokenizer.eos_token_id]
        ids = [*prompt, *middle]
        return ids, ids[:] if not assistant_only else [IGNORE] * len(prompt) + middle
    out = tokenizer.apply_chat_template(list(row["messages"]), chat_template=template, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=assistant_only)
    ids = list(out["input_ids"])
    if not assistant_only:
        return ids, ids[:]
    mask = out["assistant_masks"]
    return ids, [i if m else IGNORE for i, m in zip(ids, mask, strict=True)]


def prepare(dataset: Any, tokenizer: Any, template: str | None, max_length: int,
            assistant_only: bool, cache_file: Path) -> tuple[Any, dict[str, int]]:
    """The dataset as `input_ids` + `labels`, over-long and untrainable records dropped;
    counts by format and by reason. The token cache goes to `cache_file` (the run directory),
    never into the export."""

    def one(row: dict[str, Any]) -> dict[str, Any]:
        ids, labels = encode(row, tokenizer, template, assistant_only)
        reason = ("over_max_length" if len(ids) > max_length
                  else "no_trainable_tokens" if all(x == IGNORE for x in labels) else "")
        return {"input_ids": ids, "labels": labels, "drop": reason,
                "kind": row.get("format") or "chat"}

    mapped = dataset.map(one, remove_columns=dataset.column_names, cache_file_name=str(cache_file),
                         load_from_cache_file=False, desc="Tokenizing export records")
    reasons = Counter(mapped["drop"])
    kinds = Counter(k for k, d in zip(mapped["kind"], mapped["drop"], strict=True) if not d)
    counts = {"records": len(mapped), "kept": len(mapped) - sum(n for r, n in reasons.items() if r),
              **{f"kept_{k}": n for k, n in sorted(kinds.items())},
              **{f"dropped_{r}": n for r, n in sorted(reasons.items()) if r}}
    kept = mapped.filter(lambda r: not r["drop"], cache_file_name=str(cache_file.with_suffix(".kept.arrow")),
                         load_from_cache_file=False)
    return kept.select_columns(["input_ids", "labels"]), counts

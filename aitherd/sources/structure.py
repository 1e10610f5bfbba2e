"""The structure each augmentation strategy promises, checked on the reply (reasoning and answer
together), so an example labelled `augment:verification` really contains a verification chain.

- verification: after the solution, a verification part (verify / re-check / double-check) with
  at least two step verdicts (a step said to hold, be correct, fail, ...);
- decomposition: at least two sub-goals (numbered, or "sub-goal" / "step" / "stage" N);
- tree_search: at least two candidate branches (option, branch, candidate, alternative...) and at
  least one pruned or abandoned (prune, discard, rule out, backtrack, dead end...);
- all three: the final answer on its own line as "Answer: ...", as every template asks.

These follow the built-in templates; custom templates that ask for something else turn the
check off (`check_structure = false`).
"""

from __future__ import annotations

import re

_ANSWER_LINE = re.compile(r"^[\s*#>_]*(?:final\s+)?answer\s*[:=]", re.IGNORECASE | re.MULTILINE)
_VERIFY = re.compile(r"\b(?:verif(?:y|ying|ication|ied)|re-?check(?:ing|ed)?|double[- ]check(?:ing|ed)?|"
                     r"sanity[- ]check|check(?:ing)? (?:each|every|the) step)", re.IGNORECASE)
_VERDICT = re.compile(r"\b(?:holds?|correct|valid|true|confirmed|checks out|consistent|matches|ok|"
                      r"incorrect|wrong|fails?|does ?n[o']t hold|invalid|error|mistake)\b|[\u2713\u2714\u2717]",
                      re.IGNORECASE)
_SUBGOAL = re.compile(r"^[\s*#>_-]*(?:(?:sub-?goal|subgoal|goal|step|stage|phase|part|milestone)\s*(\d+)|"
                      r"(\d+)[.)]\s+\S)", re.IGNORECASE | re.MULTILINE)
_BRANCH = re.compile(r"\b(?:option|branch|candidate|alternative|approach|path|move|choice)(?:s|es)?\b",
                     re.IGNORECASE)
_PRUNE = re.compile(r"\b(?:prun(?:e|ed|es|ing)|discard\w*|abandon\w*|rule[ds]? out|ruling out|eliminat\w*|"
                    r"back(?:ing)? up|backtrack\w*|dead[- ]end|reject\w*|not promising|drop(?:ped|ping)?)\b",
                    re.IGNORECASE)


def _verification(text: str) -> str | None:
    m = _VERIFY.search(text)
    if m is None:
        return "a verification of the solution (verify / re-check each step)"
    verdicts = [ln for ln in text[m.start():].splitlines() if _VERDICT.search(ln)]
    if len(verdicts) < 2:
        return "step-by-step verdicts in the verification (at least two steps said to hold or fail)"
    return None


def _decomposition(text: str) -> str | None:
    numbers = {a or b for a, b in _SUBGOAL.findall(text)}
    return None if len(numbers) >= 2 else "at least two sub-goals worked through in order"


def _tree_search(text: str) -> str | None:
    if len(_BRANCH.findall(text)) < 2:
        return "candidate next steps at a decision point (at least two branches)"
    if not _PRUNE.search(text):
        return "a weak branch pruned or abandoned"
    return None


_CHECKS = {"verification": _verification, "decomposition": _decomposition, "tree_search": _tree_search}


def missing_structure(strategy: str, reasoning: str, answer: str) -> str | None:
    """What the reply lacks of its strategy's promised structure, or None when it has it all."""
    text = f"{reasoning}\n{answer}"
    check = _CHECKS.get(strategy)
    if check is not None and (missing := check(text)):
        return missing
    if not _ANSWER_LINE.search(answer) and not _ANSWER_LINE.search(text):
        return 'the final answer on its own line as "Answer: ..."'
    return None

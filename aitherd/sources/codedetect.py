"""Is this answer code? A detector for corpora that mix code with prose, built to keep prose out
of the coder set (precision first) without losing code in any common language.

`code_score(text)` is 0..1; 0.5 is the usual threshold. In order:
1. Fenced blocks: a block tagged with a language is code; an untagged (or `text`, `markdown`)
   block is judged by its contents, and if they are not code, the whole text is judged.
2. Each line is classified: a *code* line has a shape only code has (a keyword-led
   statement, a call statement, a line ending in `{` or a code `;`, a closing bracket, a
   declaration, a compound assignment, a shell, SQL, Dockerfile, HTML, CSS, YAML or diff line);
   a *weak* line has a code operator (`==`, `=>`, `->`, `::`, `&&`...); a *prose* line has two or
   more natural words; the rest (a lone word, an equation, a table row) is left out. Indentation
   is not a signal (poems and nested Markdown lists are indented too). The score is the code
   share of the classified lines, at least 0.6 when three code lines follow each other.
3. Where the lines leave it open (text that opens like data; code signals but a score under
   0.8), Python decides: text that parses is code when it has a statement only code has (a def,
   an import, a loop, a call, an assignment of a call, a container or a string, a compound
   assignment...); text that parses but holds only literals, names and arithmetic (`x = 3`,
   `{'answer': 'Paris'}` from `str(dict)`, `x == 4`) is a math answer or data, not code. JSON
   objects and arrays are data too.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PROSE_FENCES = {"", "text", "txt", "plain", "plaintext", "markdown", "md", "none"}
_MAX_PARSE = 200_000  # characters: longer texts are judged line by line only
_MAX_LINES = 400  # lines classified per text: a long answer's first 400 lines decide

# Shapes only code has, at the start of a line (tried with `match`: one position, not a scan).
_CODE_START = re.compile("|".join(p.removeprefix("^") for p in (
    # Python, and keyword-led statements of many languages (case-sensitive: prose is capitalised)
    r"^(?:async\s+)?def\s+\w+\s*[(\[]", r"^class\s+\w+[\s:(<{]", r"^(?:import\s+[\w.]+|from\s+[\w.]+\s+import\b)",
    r"^(?:return|yield|raise|assert|await|del|throw)\b(?:[\s(;\[{'\"]|$)", r"^(?:pass|break|continue)\s*;?$",
    r"^(?:else|try|finally)\s*:\s*$", r"^except\b[^:]*:\s*$", r"^(?:elif|if|while)\b.*[\w)\]'\"]\s*:\s*(?:#.*)?$",
    r"^for\s+[\w, ()]+\s+in\s+.+:\s*$", r"^with\s+.+:\s*$", r"^@[\w.]+(?:\(.*\))?\s*$",
    r"^(?:end|done|fi|esac|endif|endfor|endwhile)\s*;?$", r"^puts\s+\S",
    r"^(?:local\s+)?function\b\s*[\w.]*\s*\(",
    r"^(?:pub(?:\(\w+\))?\s+)?(?:fn|func|fun|impl|trait|struct|enum|mod|use)\s+[\w<&(]",
    r"^(?:package|namespace|using)\s+[\w.:]+\s*;?", r"^(?:#include|#define|#ifn?def|#endif|#pragma)\b",
    r"^template\s*<", r"^typedef\s+\w",
    r"^(?:public|private|protected|static|final|abstract|override|export|extern)\s+\w",
    r"^(?:let|const|var|val|auto|local|my)\s+(?:mut\s+)?[\w$]+\s*(?::\s*[\w<>\[\], &]+)?\s*(?:=[^=]|;|$)",
    r"^(?:int|long|short|char|float|double|bool|boolean|void|unsigned|size_t|string|String|u?int\d+_t)\b"
    r"[\w\s*&<>\[\],]*\s+\*?\w+\s*(?:=|;|\(|\[)",
    r"^[A-Z]\w*(?:<[^>]*>|\[\])\s+\w+\s*=[^=]",  # a typed declaration: List<String> names = ...
    r"^\w+\s*::\s*\S", r"^\.\w+\(",  # a type signature; a chained call
    r"^[\w.$\[\]'\"]+\s*(?:\+=|-=|\*=|/=|%=|\|=|&=|\^=|<<=|>>=|:=|\?\?=|<-)\s*\S", r"^\w+(?:\+\+|--)\s*;?$",
    r"^[A-Za-z_$][\w.$]*(?:\[[^\]]*\])?!?\s*\(.*\)\s*;?\s*(?://.*|#.*)?$",  # a call statement
    r"^[}\])]+[\s;,)}\]]*(?://.*|#.*)?$", r"^\)\s*(?:->.*)?:\s*$",
    r"^\**[a-z_]\w*\s*:\s*[\w.\[\], |\"']+(?:\s*=\s*\S.*)?,\s*$",  # an annotated parameter
    # shell, SQL, Dockerfile, HTML/XML, CSS and TypeScript members, YAML/Make blocks, diffs
    r"^(?:\$\s+|sudo\s+)?(?:git|pip3?|npm|npx|yarn|pnpm|docker|kubectl|curl|wget|apt|apt-get|brew|cargo|conda|"
    r"poetry|chmod|chown|mkdir|ssh|scp|tar|grep|sed|awk|gzip|helm|terraform)\s+\S",
    r"^(?:\$\s+)?(?:cd|ls|rm|cp|mv|echo|export|make|go|find|cat|python3?|node|java|javac|gcc|g\+\+|cmake|source)"
    r"\s+.*(?:\s-|/|\.\w|\*|\$|=|\||&&|>|\"|')",
    r"^(?:SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(?:TABLE|INDEX|VIEW|UNIQUE)|ALTER\s+TABLE|"
    r"DROP\s+TABLE|FROM|WHERE|(?:LEFT\s+|RIGHT\s+|INNER\s+)?JOIN|GROUP\s+BY|ORDER\s+BY|HAVING|LIMIT|VALUES)\b",
    r"^(?:FROM|RUN|CMD|COPY|ADD|WORKDIR|ENV|EXPOSE|ENTRYPOINT|ARG|LABEL|USER|VOLUME)\s+\S",
    r"^<\?php", r"^</?[a-zA-Z][\w:-]*(?:\s[^>]*)?/?>", r"^[\w-]+\??:\s*[^;]+;\s*$",
    r"^[a-z_][\w.-]*:\s*$", r"^(?:---|\+\+\+) [ab]/", r"^@@ ", r"^[+-](?:\s{2,}|\t|(?=[A-Za-z_@#{}()\[\]]))",
    r"^(?:<<<<<<<|=======|>>>>>>>)",
)))
# ...and at its end (tried on the last 80 characters).
_CODE_END = re.compile(r"\{\s*$|[;)]\s*(?:do|then)\s*$|\bdo\s*\|[\w, ]+\|\s*$")
_CODE_SEMI = re.compile(r"[\w)\]'\"`]\s*;\s*(?://.*|/\*.*\*/\s*)?$")
_BRACKETS = re.compile(r"[=(){}\[\]]")
_WEAK = re.compile(r"==|!=|=>|->|::|&&|\|\||\+\+|<-|\blambda\b|\w\.\w+\(|^[a-z_][\w.-]*:\s+\S+$")
_TARGET = r"[A-Za-z_][\w.]*(?:\[[^\]]*\])?"
_ASSIGN = re.compile(rf"^{_TARGET}(?:\s*,\s*{_TARGET})*(?:\s*:\s*[\w.\[\], |]+)?\s*=\s*([^=].*)$")
_CHAIN = re.compile(r"\s=\s")  # x = 3 = ...: a derivation, not an assignment
_CODE_VALUE = re.compile(r"[(\[{'\"]|\.[A-Za-z_]|\bnew\b|\bawait\b|\blambda\b")
_WORD = re.compile(r"^[(\"'`*]*[A-Za-z][a-z']*[)\"'`*.,;:!?]*$")
_CODE_HINT = re.compile(r"\w\(|\w\.\w|_|=|[\[\]{};<>]|->|::")
_COMMENT = re.compile(r"\s*(?://|/\*|\*/|\* |#(?!include|define|if|endif|pragma|!))")
_BULLET = re.compile(r"^(?:[-*+]|\d+[.)])\s+")


def _line_kind(line: str) -> int:
    """2 code, 1 weak, 0 prose, -1 left out."""
    s = line.strip()
    if not s:
        return -1
    is_bullet = s[0] in "-*+0123456789" and _BULLET.match(s) is not None
    body = _BULLET.sub("", s) if is_bullet else s
    if not is_bullet:
        if _CODE_START.match(body):
            return 2
        last = body[-1]  # cheap gates before the end-anchored patterns
        if (last in "{on|" and _CODE_END.search(body[-80:])) or (";" in body[-80:] and _CODE_SEMI.search(
                body[-80:]) and (_BRACKETS.search(body) or len(body.split()) <= 2)):
            return 2
    if "=" in body and (a := _ASSIGN.match(body)) and not is_bullet and not _CHAIN.search(a.group(1)):
        if _CODE_VALUE.search(a.group(1)) or "_" in body.split("=", 1)[0] or "," in body.split("=", 1)[0]:
            return 2
        return -1  # x = 3: an equation as much as code
    if is_bullet:
        return 0
    tokens = body.split()
    words = sum(1 for t in tokens if _WORD.match(t))
    # Prose: mostly words, without code's marks unless a long sentence merely mentions code.
    if words >= 2 and words >= len(tokens) / 2 and (
            not _CODE_HINT.search(body) or (words >= 8 and words >= 0.7 * len(tokens))):
        return 0
    return 1 if _WEAK.search(body) else -1


def _lines_score(text: str) -> tuple[float, int]:
    """(code share of the classified lines, how many lines had a code signal)."""
    code = weak = prose = run = 0
    best_run = 0
    in_doc = False
    for line in text.splitlines()[:_MAX_LINES]:
        quotes = line.count('"""') + line.count("'''")
        if in_doc or quotes:  # docstrings are prose inside code: leave them out
            in_doc = in_doc != (quotes % 2 == 1)
            continue
        if _COMMENT.match(line):
            continue
        kind = _line_kind(line)
        if kind == 2:
            code += 1
            run += 1
            best_run = max(best_run, run)
        elif kind == 1:
            weak += 1
        elif kind == 0:
            prose += 1
            run = 0
    total = code + weak + prose
    if not total:
        return 0.0, 0
    score = (code + 0.4 * weak) / total
    return (max(score, 0.6) if best_run >= 3 else score), code + weak


_SUBSTANTIVE = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.For,
                ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.If, ast.Raise, ast.Assert,
                ast.Delete, ast.Global, ast.Nonlocal, ast.AugAssign, ast.AnnAssign, ast.Match)
_CODE_EXPR = (ast.Call, ast.Attribute, ast.Subscript, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp,
              ast.GeneratorExp, ast.JoinedStr, ast.Await, ast.Yield, ast.YieldFrom, ast.List, ast.Dict, ast.Set)


def _python(text: str) -> bool | None:
    """True: Python code; False: parses but is only literals and arithmetic; None: not Python."""
    if len(text) > _MAX_PARSE:
        return None
    try:
        # A method copied out of its class keeps the class's indentation: parse it dedented.
        tree = ast.parse(textwrap.dedent(text) if text[:1] in " \t" else text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in tree.body:
        if isinstance(node, _SUBSTANTIVE):
            return True
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call | ast.Await | ast.Yield):
            return True
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets]
            if any(not isinstance(t, ast.Name) for t in targets) or any(
                    "_" in t.id or (t.id.isupper() and len(t.id) > 1) for t in targets if isinstance(t, ast.Name)):
                return True
            if any(isinstance(n, _CODE_EXPR) or (isinstance(n, ast.Constant) and isinstance(n.value, str))
                   for n in ast.walk(node.value)):
                return True
    return False


def _is_data(text: str) -> bool:
    s = text.strip()
    if not s or s[0] not in "[{":
        return False
    try:
        return isinstance(json.loads(s), dict | list)
    except ValueError:
        return False


def code_score(text: str) -> float:
    """0..1: how much of `text` is code (see the module docstring). Python is parsed only when
    the lines leave it open (parsing is most of the cost): text that opens like data, or has code
    signals but a score under 0.8 (a docstring-heavy function, an operator in a math answer)."""
    if not text or not text.strip():
        return 0.0
    if "```" in text:
        fences = _FENCE.findall(text)
        if any(lang.lower() not in _PROSE_FENCES for lang, _ in fences):
            return 1.0
        if fences and (fenced := max(code_score(body) for _, body in fences)) >= 0.5:
            return fenced
    if text.lstrip()[:1] in "{[(":
        if _is_data(text):
            return 0.0
        python = _python(text)
        if python is not None:
            return 1.0 if python else 0.0
    score, signals = _lines_score(text)
    if score >= 0.8 or not signals:
        return score
    python = _python(text)
    if python is None:
        return score
    return 1.0 if python else 0.0

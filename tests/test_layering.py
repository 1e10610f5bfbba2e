"""The import graph keeps its shape: no circles, stages import only leftwards, the low modules
import no high ones, and no function grows past ~80 lines without a stated reason.

The layering (README, "How it works"):

    daemon faces   daemon, api/, ctl*, runner, schedule, watch, worker, jobs/, metrics, startup
        |  (assemble and trigger; jobs import stages lazily, in the worker)
    stages         sources/ -> curate/ -> export/ -> train/ -> evaluate/ -> serve/ -> star/
        |  (each imports only stages to its left, never a face)
    low            runs, store/, config, sections, lora, ctl_format, candidate, specialists, errors, children, logs, llm, client,
                   answers, think, timing, benchmarks/, the redactor (curate/redact.py and its rules)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "aitherd"
STAGES = ["sources", "curate", "export", "train", "evaluate", "serve", "star"]
FACES = {"daemon", "api", "ctl", "ctl_completion", "ctl_reports", "runner", "schedule", "watch",
         "worker", "jobs", "metrics", "scrape", "sdnotify", "startup", "control_socket", "__main__"}
# Modules that live in a stage's folder but sit on the low floor, with the reason.
LOW_IN_STAGES = {
    # The redactor is the one place every stored, logged and served string passes (the store's
    # write path, the log processor, the LLM client's error texts), so those low modules use it.
    "aitherd.curate.redact", "aitherd.curate.secret_rules", "aitherd.curate.secret_context",
}
# A stage that runs inside the daemon may use one of its faces: serving (the vLLM supervisor and
# the alias proxy are hosted by the daemon) records into the daemon's metrics registry.
STAGE_FACE_ALLOWED = {("serve", "metrics")}
# Functions allowed past the length limit, each with the reason.
LONG_FUNCTIONS: dict[str, str] = {
    "aitherd.train.trainer.train": "the training entry point reads top to bottom as one recipe "
                                   "(model, data, trainer, save), as litgpt's finetune scripts do",
    "aitherd.sources.docstrings.render": "one pass over a docstring's lines with its small state "
                                         "machine (fields, directives, literal blocks)",
}
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, name: str, known: set[str], *, top_level_only: bool) -> Iterator[str]:
    """Modules of aitherd imported by a file: at module level only, or anywhere."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(nodes: list[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node):
                continue
            yield node
            if isinstance(node, ast.If | ast.Try | ast.With):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        yield from walk(child.body if isinstance(child, ast.ExceptHandler) else [child])

    nodes = walk(tree.body) if top_level_only else (n for n in ast.walk(tree) if isinstance(n, ast.stmt))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("aitherd"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if not mod.startswith("aitherd"):
                continue
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known]
            # `from aitherd.sources import gitmine` imports the module gitmine, not the package's face.
            yield from subs if len(subs) == len(node.names) else [mod, *subs]


def graph(*, top_level_only: bool) -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: {m for m in imports(path, name, known, top_level_only=top_level_only) if m in known and m != name}
            for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def area(module: str) -> str:
    """The top-level part a module belongs to: a stage, a face, or a low module's own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def is_schema(module: str) -> bool:
    """A stage's configuration schema (`config`, `*_config`): the config loader composes it, so
    low modules may import it; it may import its own stage (where its sections are defined)."""
    last = module.rsplit(".", 1)[-1]
    return area(module) in STAGES and module.count(".") > 1 and (last == "config" or last.endswith("_config"))


def layering_problem(mod: str, dep: str) -> str | None:
    here = "low" if mod in LOW_IN_STAGES else area(mod)
    there = "low" if dep in LOW_IN_STAGES else area(dep)
    if there in FACES and here not in FACES and (here, there) not in STAGE_FACE_ALLOWED:
        return "imports a daemon face"
    if here in FACES:
        return None
    if here not in STAGES:  # the low floor
        return None if there not in STAGES or is_schema(dep) else "a low module importing a stage"
    if there in STAGES and STAGES.index(there) > STAGES.index(here) and here != "star":
        return "imports a stage to its right"
    return None


def test_stages_import_only_stages_to_their_left_and_never_a_daemon_face() -> None:
    wrong = [f"{mod} -> {dep}: {why}" for mod, deps in graph(top_level_only=False).items()
             for dep in sorted(deps) if (why := layering_problem(mod, dep))]
    assert wrong == [], "\n".join(wrong)


def test_no_function_is_longer_than_the_limit_without_a_reason() -> None:
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                key = f"{name}.{node.name}"
                if length > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS:
                    long.append(f"{key}: {length} lines")
    assert long == [], "\n".join(long)


def test_the_checker_finds_a_circle_and_an_upward_import() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layering_problem("aitherd.sources.gitmine", "aitherd.curate.dedup") == "imports a stage to its right"
    assert layering_problem("aitherd.store.examples", "aitherd.curate.redact") is None
    assert layering_problem("aitherd.curate.dedup", "aitherd.sources.items") is None
    assert layering_problem("aitherd.export.job", "aitherd.jobs") == "imports a daemon face"
    assert layering_problem("aitherd.runs", "aitherd.sources.gitmine") == "a low module importing a stage"
    assert layering_problem("aitherd.config", "aitherd.sources.coder_config") is None
    assert layering_problem("aitherd.star.loop", "aitherd.serve.client") is None


def test_there_are_no_import_circles() -> None:
    found = cycles(graph(top_level_only=True))
    assert found == [], f"import circles: {found}"

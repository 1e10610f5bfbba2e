"""Aider chat histories as aider really writes them (aider/io.py): user lines `#### ... ` with a
Markdown hard break (two trailing spaces), tool output `> ...`, the assistant's Markdown as is."""

from __future__ import annotations

from pathlib import Path

from items_util import last_mark, outputs
from sessions_util import age, answer, cands, request, skips

from aitherd.sources.sessions import harvest_aider

BANNER = """# aider chat started at 2026-11-20 10:00:00

> Aider v0.86.2  
> Main model: anthropic/claude-sonnet-4-5 with diff edit format, infinite output  
> Git repo: .git with 42 files  
> Repo-map: using 4096 tokens, auto refresh  
"""  # noqa: W291 (aider's own trailing spaces)

EDIT = """cart.py
```python
<<<<<<< SEARCH
for i in range(len(items) - 1):
=======
for i in range(len(items)):
>>>>>>> REPLACE
```"""


def history(tmp_path: Path, text: str, quiet: bool = True) -> Path:
    path = tmp_path / ".aider.chat.history.md"
    path.write_text(text)
    if quiet:
        age(path)
    return path


def test_search_replace_blocks_are_kept_whole(tmp_path):
    text = BANNER + f"""
#### the totals are off by one  
#### in cart.py  

The loop skips the last item.

{EDIT}

> Tokens: 2.1k sent, 120 received. Cost: $0.01 message, $0.01 session.  
> Applied edit to cart.py  
> Commit 1a2b3c4 fix: include the last item in totals  

#### thanks  

You're welcome.

> Tokens: 2.3k sent, 5 received. Cost: $0.00 message, $0.01 session.  
"""  # noqa: W291
    out = list(harvest_aider(history(tmp_path, text), None))
    (fix,) = cands(out)
    assert request(fix) == "the totals are off by one\nin cart.py" and fix.category == "debugging"
    assert answer(fix) == f"The loop skips the last item.\n\n{EDIT}"
    assert skips(out) == ["skip:no_code"]
    assert last_mark(out)["offset"] == (tmp_path / ".aider.chat.history.md").stat().st_size


def test_a_markdown_heading_in_an_answer_is_not_a_user_turn(tmp_path):
    text = BANNER + """
#### how do I install the dependencies of the web app?  

It depends on your package manager.

#### If you're using **npm**:

```bash
npm install
```

#### If you're using **yarn**:

```bash
yarn install
```

> Tokens: 1.2k sent, 80 received.  

#### thanks  

You're welcome.
"""  # noqa: W291
    (c,) = cands(harvest_aider(history(tmp_path, text), None))
    assert request(c) == "how do I install the dependencies of the web app?"
    assert "#### If you're using **npm**:" in answer(c) and answer(c).endswith("```bash\nyarn install\n```")


def test_with_trailing_spaces_stripped_user_turns_are_told_from_headings_by_layout(tmp_path):
    text = """# aider chat started at 2026-11-20 10:00:00

> Aider v0.86.2

#### how do I install the dependencies?

It depends.

#### If you're using **npm**:

```bash
npm install
```

> Tokens: 1.2k sent, 80 received.

#### and with pnpm?

```bash
pnpm install
```

> Tokens: 1.3k sent, 20 received.

#### thanks
"""
    got = cands(harvest_aider(history(tmp_path, text), None))
    assert [request(c) for c in got] == ["how do I install the dependencies?", "and with pnpm?"]
    assert "npm install" in answer(got[0]) and "If you're using **npm**" in answer(got[0])


def test_reasoning_is_kept_apart_and_only_the_attempt_after_a_format_retry_is_kept(tmp_path):
    text = BANNER + """
#### fix the off by one in cart.py  

<think>
The loop stops early. I should change the range.
</think>

cart.py
```python
<<<<<<< SEARCH
for i in range(len(items) - 2):
=======
for i in range(len(items)):
>>>>>>> REPLACE
```

> Tokens: 2.1k sent, 150 received.  
> The LLM did not conform to the edit format.  
> https://aider.chat/docs/troubleshooting/edit-errors.html  
> # 1 SEARCH/REPLACE block failed to match!

## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in cart.py
<<<<<<< SEARCH
for i in range(len(items) - 2):
=======
for i in range(len(items)):
>>>>>>> REPLACE

Did you mean to match some of these actual lines from cart.py?

```
for i in range(len(items) - 1):
```

The SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc  

<think>
The file has len(items) - 1, not - 2.
</think>

""" + EDIT + """

> Tokens: 2.4k sent, 90 received.  
> Applied edit to cart.py  

#### thanks  
"""  # noqa: W291
    (c,) = cands(harvest_aider(history(tmp_path, text), None))
    assert answer(c) == EDIT
    assert c.reasoning == "The file has len(items) - 1, not - 2."


def test_after_a_format_retry_with_trailing_spaces_stripped_the_error_text_is_left_out(tmp_path):
    text = """# aider chat started at 2026-11-20 10:00:00

#### fix the off by one in cart.py

cart.py
```python
<<<<<<< SEARCH
nothing like this
=======
for i in range(len(items)):
>>>>>>> REPLACE
```

> The LLM did not conform to the edit format.
> https://aider.chat/docs/troubleshooting/edit-errors.html
> # 1 SEARCH/REPLACE block failed to match!

## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in cart.py
<<<<<<< SEARCH
nothing like this
=======
for i in range(len(items)):
>>>>>>> REPLACE

The SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc

""" + EDIT + """

> Applied edit to cart.py

#### thanks
"""
    (c,) = cands(harvest_aider(history(tmp_path, text), None))
    assert answer(c) == EDIT


def test_commands_and_architect_hand_offs_are_not_requests(tmp_path):
    plan = "Add a `verbose` option to the argument parser in cli.py and pass it to run()."
    text = BANNER + f"""
#### /add cli.py  

> Added cli.py to the chat  

#### /ask how is run() called?  

#### how is run() called?  

From `main()` with the parsed arguments.

> Tokens: 1k sent, 20 received.  

#### add a --verbose flag to cli.py  

{plan}

> Tokens: 1.5k sent, 40 received.  
> Edit the files? (Y)es/(N)o [Yes]: y  

#### {plan}  

cli.py
```python
<<<<<<< SEARCH
    parser.add_argument("path")
=======
    parser.add_argument("path")
    parser.add_argument("--verbose", action="store_true")
>>>>>>> REPLACE
```

> Applied edit to cli.py  

#### /run pytest -q  

> Add 0.1k tokens of command output to the chat? (Y)es/(N)o [Yes]: n  
"""  # noqa: W291
    out = list(harvest_aider(history(tmp_path, text), None))
    (c,) = cands(out)
    assert request(c) == "add a --verbose flag to cli.py" and c.category == "instruction"
    assert answer(c).startswith(plan) and '"--verbose", action="store_true"' in answer(c)
    assert skips(out) == ["skip:no_code"]  # the /ask question has no code


def test_the_unfinished_last_turn_waits_and_nothing_is_read_twice(tmp_path):
    text = BANNER + f"""
#### fix the totals  

{EDIT}

> Applied edit to cart.py  
"""  # noqa: W291
    log = history(tmp_path, text, quiet=False)
    out = list(harvest_aider(log, None))
    assert cands(out) == []
    age(log)
    out = list(harvest_aider(log, last_mark(out)))
    assert len(cands(out)) == 1
    assert outputs(harvest_aider(log, last_mark(out))) == []


def test_question_answers_logged_as_input_and_an_auto_accepted_hand_off_are_not_requests(tmp_path):
    # As aider 0.86 writes it with --auto-accept-architect: the answers to "Add file to the chat?"
    # that a group choice applies are logged as `#### ` input, then the plan (without its
    # reasoning) is handed to the editor as input, with no "Edit the files?" question.
    plan = "Use a dict for the cache.\n\n```python\ncache = {}\n```"
    text = BANNER.replace("diff edit format", "architect edit format") + f"""
#### speed up the lookups in store.py  
> store.py  
> Add file to the chat? (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [Yes]: a  
> cache.py  

#### Add file to the chat? (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [Yes]: all  
> Add file to the chat? (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [Yes]: a  

<thinking-content-7bbeb8e1441453ad999a0bbba8a46d4b>

The lookups scan a list.

</thinking-content-7bbeb8e1441453ad999a0bbba8a46d4b>

{plan}

> Tokens: 3k sent, 200 received.  

#### Use a dict for the cache.  
####   
#### ```python  
#### cache = {{}}  
#### ```  

store.py
```python
<<<<<<< SEARCH
cache = []
=======
cache = {{}}
>>>>>>> REPLACE
```

> Applied edit to store.py  
"""  # noqa: W291
    out = list(harvest_aider(history(tmp_path, text), None))
    (c,) = cands(out)
    assert request(c) == "speed up the lookups in store.py"
    assert c.reasoning == "The lookups scan a list."
    assert answer(c).startswith(plan) and answer(c).endswith(">>>>>>> REPLACE\n```")
    assert skips(out) == []

"""What a source yields, and the shape of a source: the contract between sources and the harvest.

`read(mark)` yields, in order:
- `Candidate`: an example to curate and store;
- `Skip(reason)`: something passed over on purpose, counted as `skipped.REASON`;
- `BadInput(where, why)`: input that cannot be used, counted, logged with where; reading goes on;
- `Checkpoint(mark)`: everything yielded before it is complete up to `mark`. A source yields one
  only at a group boundary (after every hunk of a commit, every example of a symbol, a whole
  session turn), never inside a group: the watermark can then never skip an unstored example.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from aitherd.candidate import Candidate

Mark = dict[str, Any]


@dataclass(frozen=True)
class Skip:
    """Passed over on purpose (a merge commit, a non-code record): counted, not an error."""

    reason: str


@dataclass(frozen=True)
class BadInput:
    """Input that cannot be used: counted per source, logged with where, reading goes on."""

    where: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.why}"


@dataclass(frozen=True)
class Checkpoint:
    """Everything yielded before this is complete up to `mark` (a JSON-able dict)."""

    mark: Mark


Item = Candidate | Skip | BadInput | Checkpoint


class Source(Protocol):
    """One watermarked stream of candidates: `name` is the source ('git', 'session', ...),
    `key` what the mark is kept for (a repo@ref, a file path, a dataset name)."""

    name: str
    key: str

    def read(self, mark: Mark) -> Iterator[Item]: ...


@dataclass
class FnSource:
    """A source from a generator function of the mark (most sources are one)."""

    name: str
    key: str
    fn: Callable[[Mark], Iterator[Item]]

    def read(self, mark: Mark) -> Iterator[Item]:
        return self.fn(mark)

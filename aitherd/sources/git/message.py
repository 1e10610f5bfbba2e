"""A commit message's body as prose: what an example's task (or a fix's explanation) reads of it,
without a coding assistant's appended chat, a squash merge's list of branch commits, a pull
request template, directives to CI and trailers. The commit classifier reads the raw body: a
trailer such as `Fixes #12` says bugfix (reading this text instead was 0.2 to 2.9 points worse).
"""

from __future__ import annotations

import re

# A trailer is a key and a colon ("Signed-off-by: ...", "Bug: 1234"), or references after the
# key ("Fixes #12", "Closes org/repo#3", "Fixes issues #232 and #244.", "Fixes #354 🦕": what
# follows them is no word). A prose line that starts with the word is no trailer ("See the hhvm
# issue tracker.", "Issue was that ..."), nor is a fix's line that goes on after its references
# ("Fixes #1146 by grouping the commands ..."); where a sentence follows them ("Fixes #2420.
# When using `nvm install` ...", "Resolve #1000: Drop the dependency on base-compat"), only the
# key and references are cut. A pointer's line is cut whole ("See https://... for context.").
_ACTIONS = (r"(?:Helps[ \t]+)?Fix(?:e[sd]|ing)?|Close[sd]?|Resolve[sd]?|Bug|Issue|"
            r"Partially (?:addresses|fixes|resolves)|Addresses")
# vim-fugitive's 105 "References https://github.com/.../issues/1209" (the whole body of some
# fixes), "Relates to #5", "Part of #9", "Follow-up to #5502"
# curl's 2,790 "Follow-up to <sha> #12638" (a commit by its hash, the pull request's number),
# "Regression from <sha>", "Supersedes #5214, #5220 and #5221"
_POINTERS = (r"See|Refs?|References?|Relate[sd] to|Part of|Follow[- ]up (?:to|of|for|from|on)|Reviewed-on|"
             r"Cherry-picked from|Regression (?:from|since|in)|Regressed in|Supersedes|Replaces")
# The CVS and Subversion templates of Apache's and FreeBSD's commits, empty or not (commons-io's
# "PR:\nObtained from:\nSubmitted by:\tMichael A. Smith [...]\nReviewed by:"): trailers here, and
# where git joined them into the subject, cut from there (examples._TEMPLATE_TAIL).
CVS_TEMPLATE = r"PR|Obtained from|(?:Submitted|Reviewed|Approved|Sponsored) by|MFC after"
# Gerrit's and OpenStack's trailers (python-novaclient: "Closes-Bug: #1234567" in 577 of its
# 3,914 examples, "Implements: blueprint x" 182, "Depends-On: I0123..."), Launchpad's and
# StoryBoard's, a tracker's key or link. Those of hyphenated words ("Closes-Bug", "Related-Bug",
# "Partially-Implements", "Depends-On", "Needed-By", "Sem-Ver", "Bug-Id") and those of a word
# and "by" ("Reported by", "Patch by") are keys of the general forms in _KEYS.
_GERRIT_KEYS = (rf"Implements|Bug(?:Id|Url|Link)|Issue(?:Id|Url|Link)|Jira|Ticket|LP|{CVS_TEMPLATE}|"
                r"Differential Revision")
# ... and any key of hyphenated words, git's trailer form (golang/protobuf's "Cherry-Pick:
# github.com/golang/protobuf@c8b73fb...", "Original-Author: Damien Neil <...>": 44 examples;
# "Change-Id", "PiperOrigin-RevId"), any of a word and "by" ("Signed-off-by", "Co-authored-by",
# git's "Mentored by:" and "Signed-off By:"), and "Cc" (git's "Cc: Ramsay Jones <...>": 250 of
# its tasks)
_KEYS = (rf"[A-Z][\w-]+[ -]by|Cc|BREAKING[ -]CHANGE|[A-Z][A-Za-z]*(?:-[A-Za-z]+)+|{_GERRIT_KEYS}|{_ACTIONS}|"
         rf"{_POINTERS}")
# an issue's number, a pull request's, a link; Launchpad's bugs by number ("Fixes bug LP #1199539",
# "Helps fix bug 943053": 297 of python-novaclient's examples named one)
_REF = (r"(?:(?:LP\s+)?(?:(?:issues?|bugs?)\s+)?(?:LP\s*:?\s*)?(?:#\d+|GH-\d+|[\w.-]+/[\w.-]+#\d+|https?://\S+)|"
        r"bugs?\s+(?:LP\s*:?\s*)?\d{4,}|"
        # a commit by its hash: hex digits, a letter and a digit among them
        r"(?:commit\s+)?\b(?=[0-9a-f]{0,39}[a-f])(?=[0-9a-f]{0,39}\d)[0-9a-f]{7,40}\b)")
_REFS = rf"{_REF}(?:(?:[ \t]*[,;/&][ \t]*|[ \t]+(?:and|or)[ \t]+|[ \t]+){_REF})*"
_ONE = rf"(?:{_ACTIONS}|{_POINTERS})[ \t]+{_REFS}"  # dplyr's "Fixes #4494. Fixes #4660.": several on a line
# a line that only copies people or points at threads: gin's "cc @giulianobr @philippgille"
# stood as a fix's explanation; jekyll's "/cc #5136"; dplyr's "Fixes #2352, CC @kevinushey"
_CC = r"/?cc:?(?:[ \t,]+(?:@[\w-]+|#\d+|https?://\S+|[\w.-]+/[\w.-]+#\d+))+"
# A line that only points at a commit or a page under a key of a word or three: typed-racket's
# 3,767 "original commit: <sha>" (the sha in the repository it was split from), googleapis'
# "Source-Link: https://..." and "Source-Sha: <sha>"; and what git-svn and svn mirrors leave:
# "git-svn-id: <url>@<rev> <uuid>", typed-racket's 626 "svn: r18074".
_POINTER_LINE = (r"[A-Za-z][\w-]*(?:[ \t][A-Za-z][\w-]*){0,2}:[ \t]*(?:[0-9a-f]{40}|https?://\S+)|"
                 r"git-svn-id:.*|svn:[ \t]*r\d+|(?:Story|Task):[ \t]*#?\d+|"  # StoryBoard's "Story: 2004321"
                 # Rietveld's and Chromium's review lines (golang/protobuf's "R=golang-dev", "CC=golang-dev")
                 r"(?:R|CC|TBR|BUG|TEST)=\S.*")
# References may stand as a list's item (consul-template's "- Fixes GH-103", a fix's whole body).
# A footnote or a list's item that is only a link or a mail's Message-ID: git's "[1] http://mid.gmane.org/...",
# "1. <CACBZZX62+...@mail.gmail.com>", "[2]: https://lore.kernel.org/git/..." (about 400 of its tasks)
_LINK_ITEM = (r"(?:\[\d+\]:?|\d+[.)]|[-*\u2022])[ \t]*(?:See[ \t]+)?(?:<[^<>\s]+@[^<>\s]+>|https?://\S+)"
              r"(?:[ \t]*\(https?://\S+\))?")
# git am's header of a patch mailed for another author ("From: Christopher Li <chrislgit@...>")
_FROM = r"From:[ \t]+[^<>\n]*<[^<>\s]+@[^<>\s]+>"
_TRAILER = re.compile(rf"^[ \t]*(?:(?:{_KEYS}):.*|{_LINK_ITEM}|{_FROM}|"
                      rf"(?:[-*][ \t]+)?(?:(?:{_POINTERS})[ \t]+{_REFS}.*|"
                      rf"{_ONE}(?:[^\w\n]+{_ONE})*(?:[^\w\n]+{_CC})?[^\w\n]*)|{_POINTER_LINE})[ \t]*$|"
                      rf"^\s*\(cherry picked from commit \w+\)\s*$|^\s*#\d+\s*$|^\s*https?://\S+\s*$|^\s*{_CC}[ \t]*$",
                      re.I | re.M)
# A short line that leads into a reference on the next line, alone there: hiredis' "Suggested
# at\nhttps://github.com/redis/hiredis/issues/294#issuecomment-..." left "Suggested at" as a
# fix's explanation once the link was cut. Both lines go.
_LEAD_IN = re.compile(r"^[ \t]*(?:[^\s.!?]+[ \t]+){0,7}(?:[^\s.!?]*:|(?:at|in|on|from|by|to|here|see|via))[ \t]*\n"
                      r"[ \t]*(?:https?://\S+|#\d+|[\w.-]+/[\w.-]+#\d+)[ \t]*$", re.I | re.M)
# (cut before the trailers: dplyr's "Fixes #2612. cc @krlmlr" leaves a cc line)
# ... and at the end of a prose line, after its sentence: python-novaclient's "... the permissions
# of the file. Fixes bug 897214."
_TRAILING_REFS = re.compile(rf"(?<=[.!?])[ \t]+{_ONE}(?:[^\w\n]+{_ONE})*[ \t]*\.?[ \t]*$", re.I | re.M)
_LEADING_REFS = re.compile(rf"^([ \t]*){_ONE}(?:[^\w\n]+{_ONE})*[ \t]*(?:[.:;]|[ \t]-)[ \t]+(?=\S)", re.I | re.M)

# Coding assistants that commit for the user append the chat that made the change: aider's
# "# Aider chat conversation:" (earlier "# Context:") then USER:/ASSISTANT: turns, the
# assistant's edit blocks among them. As the task's text it would hand the model the answer.
_CHAT = re.compile(r"^#[ \t]*(?:Aider chat conversation|Context):?[ \t]*\n(?=(?:[ \t]*\n)*USER:)", re.M)
# A directive to CI, not part of the task ("docs: fix typo [ci skip]": 190 of vite's examples).
CI_DIRECTIVE = re.compile(r"[ \t]*\[(?:skip ci|ci skip|no ci|skip actions|actions skip|skip travis|travis skip|"
                          r"skip netlify|netlify skip|skip azurepipelines|skip azp|azp skip)\]", re.I)
# GitHub's squash merge writes the branch's commit subjects into the body, a bulleted paragraph
# each ("* add failing test\n\n* address review comments\n\n* Update x.py"), and a line of nine
# dashes before the co-authors: the branch's history, not what the change does (in a fix, it
# would stand as the answer's explanation). 5% to 15% of the commits of litestar, hono,
# python-bigquery and BentoML. From the first bullet paragraph on, only prose a branch commit's
# body wrote is kept.
_SQUASH_RULE = re.compile(r"^-{9}[ \t]*$", re.M)
# A pull request template left in the body: its HTML comments (the template's instructions), its
# checklists ("- [x] Ensure the tests and linter pass", with the line that introduces them:
# "Thank you for opening a Pull Request! Before submitting your PR, ...:") and screenshots.
# About 5% of python-bigquery's and release-please's commits, 1% of BentoML's.
# git's note of the files a merge or cherry-pick had conflicts in, left in the message ("Conflicts:"
# then a tab-indented path a line, "# Conflicts:" in newer gits): magit's 14, Alamofire's 8
# What hg-git and `hg convert` append to a message: "--HG--" then "branch : trunk", "rename : a =>
# b", "extra : ..." to its end (jinja's history from Mercurial: "--HG--\nbranch : trunk" stood as
# fixes' whole explanation).
_HG_META = re.compile(r"^--HG--[ \t]*$.*", re.M | re.S)
_CONFLICTS = re.compile(r"^#?[ \t]*Conflicts:[ \t]*\n(?:#?[ \t]*\n)?(?:#?\t[^\n]*(?:\n|\Z))+", re.M)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_CHECKLIST = re.compile(r"(?:^[^\n]*:[ \t]*\n(?:[ \t]*\n)*)?"  # the line that introduces it
                        # each item, with the lines it wraps onto (not blank, not a new item)
                        r"(?:^[ \t]*[-*] \[[ xX]\][^\n]*(?:\n(?![ \t]*(?:[-*] |\n|\Z))[^\n]*)*(?:\n|\Z))+", re.M)
_IMAGE_LINE = re.compile(r"^[ \t]*!\[[^\]\n]*\]\([^)\n]*\)[ \t]*$", re.M)
_BULLET = re.compile(r"(?:\A|\n[ \t]*\n)[ \t]*\* ")


LONG_SUBJECT = 100
_SENTENCE_END = re.compile(r"(?<=[\w)`'\"][.!?])[ \t]+(?=[A-Z`])")
_COLON_LIST = re.compile(r":[ \t]+(?=(?:1[.)]|\(1\)|[-*])[ \t])")


def split_subject(subject: str) -> tuple[str, str]:
    """(the first sentence, the rest) of a subject over LONG_SUBJECT characters that git joined
    from a first paragraph of several sentences (guzzle's and gson's: 170 and 168 subjects);
    (subject, "") else."""
    if len(subject) <= LONG_SUBJECT:
        return subject, ""
    end = _SENTENCE_END.search(subject, 15)
    if (listed := _COLON_LIST.search(subject, 15)) is not None and (end is None or listed.start() < end.start()):
        # a list the first line opens ("strerror_r() detection changes:" over "1. Try with ...":
        # curl's older messages), not its first item's number, ends the task
        items = subject[listed.end():]
        mark = r"\d+[.)]" if items[0].isdigit() else r"\(\d+\)" if items[0] == "(" else re.escape(items[0])
        # one item a line, as written before git joined them ("- Update ... - Add ...": commons-io)
        return subject[:listed.start()], re.sub(rf"[ \t]+(?={mark}[ \t]+\S)", "\n", items)
    if end is not None:
        return subject[:end.start()], subject[end.end():]
    return subject, ""


# Phabricator's label before the description (Meta's projects exported from their monorepo:
# fvcore's "Summary: Pull Request resolved: https://..." in 169 of its 262 commits), and a body
# that only points back at the subject ("as title")
_SUMMARY = re.compile(r"\A\s*Summary:[ \t]*\n?")
_AS_TITLE = re.compile(r"(?:(?:as|see)[ \t]+(?:the[ \t]+)?title(?:d|[ \t]+says)?|title[ \t]+says[ \t]+it[ \t]+all)"
                       r"[.!]?\Z", re.I)


# An entry of `git log`'s output pasted into a message: `git merge --squash` writes one for each
# commit it squashed under "Squashed commit of the following:" (moshi, urfave/cli, dplyr, pdoc),
# and a pull request's description may hold some (TheAlgorithms/Python's "commit 6801d07...
# Author: Archaengel <...> Date: ..."): the headers name people and mail addresses, not the change.
_LOG_ENTRY = re.compile(r"^commit [0-9a-f]{7,40}\b[^\n]*\n(?:[A-Z][A-Za-z]*:[^\n]*\n)+\n?((?:(?: {4}[^\n]*)?\n)*)",
                        re.M)


def log_messages(body: str) -> list[str]:
    """The messages of the `git log` entries pasted in a body, as written (not indented)."""
    if "commit " not in body:
        return []
    return [m for e in _LOG_ENTRY.finditer(body.replace("\r\n", "\n") + "\n") if (m := _unindent(e.group(1)))]


def _unindent(text: str) -> str:
    return "\n".join(ln[4:] for ln in text.split("\n")).strip()


# A commit named by its hash in the body's prose, or by a link to it: werkzeug's "Introduced in
# 4381d6eff5e8...", tornado's "This undoes the effect of http://github.com/facebook/tornado/commit/
# e391fd28...", client_python's "... in\n0014e9776350... resulting in lost updates". As a fix's
# explanation it asks the model to cite a hash it can only guess (tornado 28 answers, werkzeug 34,
# peft 72 with the links in their code). The commit is named without it. A full hash (40 digits),
# or a short one after "commit" or in a commit's link; a file's link at a revision (`/blob/<sha>/`)
# stays, as a hash in code does.
_COMMIT_HASH = re.compile(r"(?:\b(?:the[ \t]+)?commits?[ \t]+)?(?:https?://\S+?/commits?/[0-9a-f]{7,40}\b(?:[#?][^\s)\]>,;]*[^\s)\]>,;.])?|"
                          r"(?<!/)\b[0-9a-f]{40}\b)|\bcommit[ \t]+(?=[0-9a-f]{0,11}\d)[0-9a-f]{7,12}\b", re.I)
_HEX_RUN = re.compile(r"[0-9a-f]{7}", re.I)  # cheap and necessary: no hash, no change
# (a line's start is a sentence's after a paragraph's, a list item's or a sentence's end, not
# where a sentence is wrapped)
_SENTENCE_START = re.compile(r"(?:^|[.!?][ \t]+|(?:^|[.!?:\n])[ \t]*\n[ \t]*|\n[ \t]*[-*][ \t]+)$")


def named_commits(body: str) -> str:
    """`body` with each commit it names by its hash (`_COMMIT_HASH`) named "another commit"."""
    if not _HEX_RUN.search(body):
        return body

    def name(m: re.Match[str]) -> str:
        return "Another commit" if _SENTENCE_START.search(body, 0, m.start()) else "another commit"

    return _COMMIT_HASH.sub(name, body)


def clean_body(body: str) -> str:
    """The body's prose (see the module docstring), blank runs of lines made one."""
    body = body.replace("\r\n", "\n")  # a message written on Windows (or in a browser: GitHub's squash lists)
    if "commit " in body and "\nAuthor: " in body:
        body = _LOG_ENTRY.sub(lambda e: _unindent(e.group(1)) + "\n\n", body + "\n")
    if "Summary:" in body:
        body = _SUMMARY.sub("", body, count=1)
    if "[" in body:
        body = CI_DIRECTIVE.sub("", body)
    if (chat := _CHAT.search(body)) is not None:
        body = body[:chat.start()]
    body = _squash_cut(body)
    if "--HG--" in body:
        body = _HG_META.sub("", body)
    if "Conflicts:" in body:
        body = _CONFLICTS.sub("", body)
    if "<!--" in body or "[" in body:
        body = _IMAGE_LINE.sub("", _CHECKLIST.sub("", _HTML_COMMENT.sub("", body)))
    if "http" in body or "#" in body:
        body = _LEAD_IN.sub("", body)
    body = _TRAILER.sub("", _TRAILING_REFS.sub("", _LEADING_REFS.sub(r"\1", body)))
    body = named_commits(body)
    if "#" in body:
        body = _empty_headings(body)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return "" if _AS_TITLE.match(body) else body


def _empty_headings(body: str) -> str:
    """Without the markdown headings left with nothing under them ("## Who can help review?")."""
    lines = body.split("\n")
    keep = []
    for i, line in enumerate(lines):
        if line.startswith("#") and _HEADING.match(line):
            after = next((ln for ln in lines[i + 1:] if ln.strip()), None)
            if after is None or _HEADING.match(after):
                continue
        keep.append(line)
    return "\n".join(keep)


_HEADING = re.compile(r"#{1,6} \S")


def _squash_prose(listing: str) -> list[str]:
    """What of a squash list describes the change: the paragraphs a branch commit's body wrote
    (BentoML's "## Root cause" under its first bullet), not the bullets' subjects ("* address
    review comments"), one-line notes ("typo", "Update x.py") or trailer blocks ("Source-Link: ...")."""
    kept = []
    for para in re.split(r"\n[ \t]*\n", listing):
        lines = [ln for ln in para.strip("\n").split("\n") if ln.strip()]
        if lines and lines[0].lstrip().startswith("* "):
            lines = lines[1:]
        if not lines or all(_TRAILER_LINE.match(ln) for ln in lines):
            continue
        if len(lines) == 1 and len(lines[0]) < 80 and not _HEADING.match(lines[0]):
            continue
        kept.append("\n".join(lines))
    return kept


_TRAILER_LINE = re.compile(r"[ \t]*[A-Za-z][\w-]*: \S")


def _squash_cut(body: str) -> str:
    """The body without a squash merge's list of the branch's commits (and what follows it)."""
    rule = _SQUASH_RULE.search(body)
    head = body[:rule.start()] if rule is not None else body
    bullets = list(_BULLET.finditer(head))
    if len(bullets) >= (1 if rule is not None else 2):
        start = bullets[0].start()
        return "\n\n".join([head[:start].strip(), *_squash_prose(head[start:])]).strip()
    if rule is not None and not _TRAILER.sub("", body[rule.end():]).strip():
        return head  # the rule before the co-authors, after a description
    return body


# The subjects Copybara's exports carry (with a PiperOrigin-RevId or GitOrigin-RevId trailer, or
# its own line, in the body): googletest's "Googletest export", abseil's "Export of internal
# Abseil changes", "Internal change", "Automated Code Change"; not "Add CSV export".
_EXPORT_SUBJECT = re.compile(r"\s*(?:[\w.+-]+ export|Export of internal(?: [\w.+-]+)? changes?|Internal changes?|"
                             r"Automated (?:Code )?Change|(?:Project )?import (?:generated )?by Copybara|"
                             r"Merge changes from github)\.?\s*$", re.I)  # abseil-py's "Internal change."
_EXPORTED = re.compile(r"^(?:PiperOrigin-RevId|GitOrigin-RevId):|Copybara", re.M)
_COPYBARA_LINE = re.compile(r"^[ \t]*(?:Project import generated by Copybara\.?|(?:PiperOrigin|GitOrigin)-RevId:.*)"
                            r"[ \t]*$", re.M)


def exported(subject: str, body: str) -> tuple[str, str]:
    """(subject, body) of a commit synced out of a company's monorepo by Copybara: googletest's
    574 "Googletest export" (about 1,000 examples asked for that) say what the change is in the
    body's first paragraph ("Add printer for std::type_info."), which is the subject then, as git
    would have read it (empty where the body says nothing: a vague intent). Any other commit's
    as they are."""
    if ("RevId:" not in body and "Copybara" not in body) or not (_EXPORT_SUBJECT.match(subject)
                                                                and _EXPORTED.search(body)):
        return subject, body  # (the substrings first: asked of every commit parsed)
    body = _TRAILER.sub("", _COPYBARA_LINE.sub("", body.replace("\r\n", "\n"))).strip()  # abseil-py's Change-Id too
    while True:  # "Googletest export" over "Internal change" (60 of googletest's): no more said
        para, _, body = body.partition("\n\n")
        subject, body = " ".join(para.split()), body.strip()
        if not _EXPORT_SUBJECT.match(subject) or not subject:
            return subject, body


_GIT_SPACE = " \t\n\r"  # what git's isspace() strips from a line's end (not \v, not \f)
# A first line that is only a version-control import's mark: tailor's and bzr's
# "[project @ robey@lag.net-20061001034525-8f78a989ecde720c]" (paramiko: 496 commits, whose
# summary is the next line; git joins both into one subject).
_IMPORT_MARK = re.compile(r"\[project @ [^\]\n]*\]")


def _skip_blank_lines(msg: str, i: int) -> int:
    n = len(msg)
    while i < n:
        j = msg.find("\n", i)
        end = n if j < 0 else j + 1
        if msg[i:end].rstrip(_GIT_SPACE):
            break
        i = end
    return i


def split_message(raw: str) -> tuple[str, str]:
    """(subject, body) of a raw commit message (git's %B) as git's %s and %b give them: the
    first paragraph after any blank lines, each of its lines without trailing whitespace, joined
    by spaces; the body is what follows the blank lines after it. But a first line that is only
    an import's mark (`_IMPORT_MARK`) is dropped: the summary under it is the subject, the rest
    of its paragraph the body's start (paramiko's "[project @ Arch-1:robey@lag.net--2003-public
    %secsh--dev--1.0--patch-111] fix extremely unlikely channel counter wrapping Transport's
    channel counter can overflow after 4 billion some channels are created. ..." asked a model
    to fix all of that)."""
    i = _skip_blank_lines(raw, 0)
    lines: list[str] = []
    n = len(raw)
    while i < n:
        j = raw.find("\n", i)
        end = n if j < 0 else j + 1
        line = raw[i:end].rstrip(_GIT_SPACE)
        i = end
        if not line:
            break
        lines.append(line)
    body = raw[_skip_blank_lines(raw, i):]
    if lines and _IMPORT_MARK.fullmatch(lines[0]):
        if len(lines) == 1:
            return split_message(body)  # the mark a paragraph of its own
        if len(lines[1]) < _WRAPPED or lines[1].endswith((".", "!", "?")):
            # a summary line, the rest of the paragraph the body's start ("fix extremely unlikely
            # channel counter wrapping", then "Transport's channel counter can overflow ...")
            rest = "\n".join(lines[2:])
            return lines[1], f"{rest}\n\n{body}" if rest and body else f"{rest}\n" if rest else body
        del lines[0]  # a sentence wrapped at the line's width: the paragraph is the subject, as git reads it
    if len(lines) == 2 and _UNDERLINE.fullmatch(lines[1]) and len(lines[1]) >= len(lines[0]) - 2 and body:
        # a reStructuredText heading over the message, as a changelog's section reads ("Features"
        # over dashes, then "- It is now possible to write a custom security policy ...": pyramid's
        # 34): it names a section, the paragraph under it the change (its item's lines joined)
        subject, body = split_message(body)
        return " ".join(subject.split()), body
    return " ".join(lines), body


_UNDERLINE = re.compile(r"-{3,}|={3,}|~{3,}")


# A line this long or longer, under an import's mark, is a sentence wrapped at the width the
# author wrote to ("SFTPClient.put() now returns the stats object it collected during" over
# "verification."); paramiko's summary lines under the mark are mostly 30 to 57 characters.
_WRAPPED = 60

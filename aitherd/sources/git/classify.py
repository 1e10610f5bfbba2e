"""What a commit is: bugfix | feature | refactor | test | docs | chore, and which commits to skip.

In order: a conventional-commit prefix (`fix(scope)!: ...`) decides; else a cached answer of the
configured LLM; else the repo's own classifier (naive Bayes trained on the repo's prefixed
commits, recency-weighted, mixed with the cross-repo prior and with that prior tuned to the same
commits, see `Model` and `repo_model`); else the cross-repo
prior alone (`prior.py`: a model shipped with the package, learnt from public conventional-commit
histories, nudged towards the rules' class); else (no prior file) rules over the message words
(whole words with their inflections: "crashed" is a crash, "semver-patch" is not a patch), the
touched paths and the diff's shape. Dependency bumps (dependabot, renovate, `chore(deps)`),
release commits and reverts teach no coding and are skipped with a reason.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from aitherd.sources.git import files, prior
from aitherd.sources.git.message import split_message, split_subject
from aitherd.sources.git.prior import Prior

CLASSES = prior.CLASSES  # ("bugfix", "feature", "refactor", "test", "docs", "chore")
_INDEX = {k: i for i, k in enumerate(CLASSES)}
PRIOR_MIX = 0.3  # weight of the repo's own naive Bayes against the cross-repo prior (measured, bench/)
TUNE_MIX = 0.7  # share of the tuned prior in the repo model's answer (measured, bench/git_classify.py)
RULE_BONUS = 1.0  # the prior alone: added to the log-probability of the rules' class (measured, bench/)
CONVENTIONAL = {"fix": "bugfix", "fixes": "bugfix", "bugfix": "bugfix", "hotfix": "bugfix", "bug": "bugfix",
                "feat": "feature", "feature": "feature", "refactor": "refactor", "perf": "refactor",
                "style": "refactor", "test": "test", "tests": "test", "docs": "docs", "doc": "docs",
                "build": "chore", "ci": "chore", "chore": "chore", "deps": "chore", "revert": "revert",
                "release": "release", "bump": "release",
                # numpy's tags (numpy.org/devdocs/dev: ENH, BUG, DOC, TST, MAINT, BLD, STY, REV,
                # REL), which scipy, pandas, scikit-learn, matplotlib and peft use too
                "enh": "feature", "tst": "test", "maint": "chore", "mnt": "chore", "bld": "chore",
                "sty": "refactor", "ref": "refactor", "rev": "revert", "rel": "release",
                "ehn": "feature"}  # ENH misspelt, as scikit-learn's contributors often do (imbalanced-learn: 10)
# numpy's tags that name no class (an API change, a deprecation, benchmarks, typing, tooling,
# work in progress): cut from the subject when written as a tag (with a colon or in brackets),
# deciding nothing
# ... and scikit-learn's pull request states ("[MRG] FIX ...", "[MRG+1] ENH ...": the tag after decides)
_CLASSLESS_TAGS = frozenset({"api", "dep", "bench", "typ", "dev", "wip", "mrg"})
# A Subversion-era mark in brackets, which says where the commit came from, not what it does:
# werkzeug's and jinja's "[svn] fixed trailing slash issue" (106 and 217 subjects; 331 of
# werkzeug's examples asked "[svn] ..."). Not "svn:" (a scope in a tool that speaks to it).
_BRACKET_ONLY_CLASSLESS = frozenset({"svn"})
# Tags that are words or abbreviations in other use ("Ref: #123", "rev: 2") count in capitals only.
_CAPS_ONLY = frozenset({"ref", "rev", "rel", "api", "dep", "bench", "typ", "dev"})
_PREFIX = re.compile(r"^\s*([A-Za-z]+)(?:\([^)]*\))?(!)?:\s*")
# ... and the same tags in brackets ("[docs] LoRA for token classification", "[BUG] ..."), or
# in capitals before the subject without a colon (peft: "FIX Deprecated params" 284 times,
# "ENH Add attribute ..." 131, "DOC ...", "TST ...", "CHORE ..."; with a colon it is _PREFIX).
# Without a colon only tags that name a class and stand in capitals: "API docs for X" keeps its
# first word.
_BRACKET_TAG = re.compile(r"^\s*\[([A-Za-z]+)(?:\+\d+)?\][ \t]*:?[ \t]*(?=\S)")
_CAPS_TAG = re.compile(r"\s*([A-Z]{2,8})[ \t]+(?=[^\s:])")  # matched at a position: no ^
_SENTENCE_GOES_ON = re.compile(r"(?:for|to|of|in|on|the|a|an|and|with|when|if|after|before|from|by|about)\b")
# gitmoji (gitmoji.dev): an emoji, by its shortcode or itself, that says what kind of change a
# commit is, the way a conventional prefix does: nlohmann/json starts 1,641 of its 3,724 subjects
# so (":bug: fix ...", ":memo: ...", ":white_check_mark: improved test coverage"), bloc and
# awesome lists some. Emoji that say no kind (":construction:", ":alembic:", ":boom:", i18n's
# ":globe_with_meridians:", fastapi's docs translations) are cut from the subject and decide
# nothing. Bumps (":arrow_up:") are dependency bumps.
_GITMOJI = {
    **dict.fromkeys(("bug", "ambulance", "adhesive_bandage", "lock", "goal_net", "green_apple"), "bugfix"),
    **dict.fromkeys(("sparkles", "tada", "children_crossing", "iphone", "egg",
                     "chart_with_upwards_trend", "necktie"), "feature"),
    **dict.fromkeys(("recycle", "art", "zap", "fire", "truck", "coffin", "wastebasket", "building_construction",
                     "label", "rotating_light", "heavy_minus_sign"), "refactor"),
    **dict.fromkeys(("white_check_mark", "test_tube", "camera_flash", "heavy_check_mark"), "test"),
    **dict.fromkeys(("memo", "bulb", "pencil2", "pencil", "page_facing_up", "books"), "docs"),
    **dict.fromkeys(("construction_worker", "green_heart", "wrench", "hammer", "hammer_and_wrench", "package",
                     "see_no_evil", "bricks", "technologist", "busts_in_silhouette", "rocket", "heavy_plus_sign",
                     "arrow_up", "arrow_down", "pushpin"), "chore"),
    "bookmark": "release", "rewind": "revert",
}
_GITMOJI_BUMPS = frozenset({"arrow_up", "arrow_down", "pushpin"})
_EMOJI = {"🐛": "bug", "🚑": "ambulance", "🩹": "adhesive_bandage", "🔒": "lock", "🥅": "goal_net",
          "✨": "sparkles", "🎉": "tada", "🌐": "globe_with_meridians", "🚸": "children_crossing",
          "♻": "recycle", "🎨": "art", "⚡": "zap", "🔥": "fire", "🚚": "truck", "⚰": "coffin", "🗑": "wastebasket",
          "🏗": "building_construction", "🏷": "label", "🚨": "rotating_light", "➖": "heavy_minus_sign",
          "✅": "white_check_mark", "🧪": "test_tube", "📸": "camera_flash", "✔": "heavy_check_mark",
          "📝": "memo", "💡": "bulb", "✏": "pencil2", "📄": "page_facing_up", "📚": "books",
          "👷": "construction_worker", "💚": "green_heart", "🔧": "wrench", "🔨": "hammer", "🛠": "hammer_and_wrench",
          "📦": "package", "🙈": "see_no_evil", "🧱": "bricks", "🧑‍💻": "technologist", "👥": "busts_in_silhouette",
          "🚀": "rocket", "➕": "heavy_plus_sign", "⬆": "arrow_up", "⬇": "arrow_down", "📌": "pushpin",
          "🔖": "bookmark", "⏪": "rewind", "🚧": "construction", "⚗": "alembic", "💥": "boom", "👌": "ok_hand",
          "💄": "lipstick", "🏁": "checkered_flag"}
_EMOJI_ALT = "|".join(sorted(map(re.escape, _EMOJI), key=len, reverse=True))
_GITMOJI_LEAD = re.compile(rf"^\s*(?::([a-z0-9_+-]+):|({_EMOJI_ALT}))\ufe0f?[ \t]*")


# What most subjects start with, and no gitmoji does: the regex is not asked.
_ASCII_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789[(\"'#`*-_.")


def gitmoji(subject: str) -> tuple[str | None, str]:
    """(the gitmoji a subject starts with, by its shortcode, or None; the subject after it)."""
    if subject[:1] in _ASCII_START:
        return None, subject
    m = _GITMOJI_LEAD.match(subject)
    if m is None:
        return None, subject
    return m.group(1) or _EMOJI[m.group(2)], subject[m.end():]
# ... and ripgrep's "deps: bump to grep 0.4.1", "deps: update everything" (227 commits).
_BUMP = re.compile(r"^(?:\[?[\w-]+\]?[:(]\s*)?(?:\w+\(deps(?:-dev)?\)[:!]|bump [\w@./-]+ from \S+ to \S+|"
                   r"update dependency [\w@./-]+ to v?\d|(?:chore|build)\(deps|"
                   r"deps(?:\([^)]*\))?!?:\s*(?:bump|updat|upgrad))", re.I)
# "Bumped v6.0.0-alpha.2" (fastify: 292 commits), "Bump to v0.3.6" (hono, nuxt, angular-cli's
# "chore(express-engine): bump 0.15.0"), "Version 0.28.1 (#3445)" (httpx: 80): a release too.
_RELEASE = re.compile(r"^(?:release|prepare (?:for )?release|bump(?:ed)? (?:the )?version|version bump|"
                      r"bump: version|(?:bump(?:ed)?\s+(?:to\s+)?|version\s+)?"
                      r"v?\d+\.\d+(?:\.\d+)?(?:[-+.]?[\w.-]+)?(?:\s*\(#\d+\))?$|"
                      r"(?:set|update) version to)", re.I)
# ... and said with a bump, behind any scope: "Bumping version to 2.5.3" (AFNetworking: 27
# commits), "cargo: bump to 0.7.1", "snapcraft: Bump version to 0.20-DEV", "Bump to 1.4.7 :tada:",
# "Finalize bump to v1.0.0-beta3" (48 commits over 70 histories; "bump to 4.9.2 okhttp" and
# "..., bumped to 0.17" say more, and are mined)
_BUMPED_TO = re.compile(r"^(?:[\w./-]+:\s+)?(?:finali[sz]e\s+)?bump(?:ed|ing)?\s+(?:the\s+)?(?:version\s+)?(?:to\s+)?"
                        r"v?\d+\.\d+(?:[-+.]?[\w.-]+)?(?:\s+release(?:\s+version)?)?\s*(?:\(#\d+\))?\s*"
                        r"(?::\w+:|[^\w\s]+)?\s*$", re.I)
# "chore(release): 11.0.0-rc.3", "chore(release): publish": pnpm's releases touch 200 files each
# ... and a subject that is a name and a version alone: a project's own release commits (git's
# 809 "Git 2.17.4", "GIT 1.4.3-rc1", "Git v1.6.6-rc0", each a version file and release notes
# bumped), underscore's "Underscore.js 1.9.1", "Polars 0.13.3"; not a verb's ("Update 3.9",
# "Require Perl 5.26.0": changes). A platform and a version ("Xcode 6.1") name no task either.
_NAMED_RELEASE = re.compile(r"^(?!(?:update|upgrade|require|support|use|add|drop|remove|fix|bump|pin|test|build|"
                            r"run|allow|enable|disable|switch|move|port|target|check)\b)"
                            r"[A-Za-z][\w+-]*(?:\.js)?[ \t]+v?\d+\.\d+(?:\.\d+)*(?:-?rc\d*)?[ \t]*$", re.I)
_RELEASE_SCOPE = re.compile(r"^\s*chore\((?:release|releases|version|publish)\)!?:", re.I)
# Maven's release plugin and the release chores of Apache's projects (commons-io: 107 examples,
# "Prepare for the next release candidate" 47 of them, "[maven-release-plugin] prepare for next
# development iteration", "Bump to next development version", "Preparing version 2.3-RC1.")
_RELEASE_END = r"(?:\s+candidate)?(?:\s+v?\d[\w.-]*)*(?:\s+candidate)?(?:\s+\d+)?\s*[.!]?\s*$"
_RELEASE_CHORE = re.compile(r"^\s*(?:\[maven-release-plugin\]|"
                            r"(?:prepar(?:e|ing)|update[ds]?|updating)\s+(?:for\s+)?(?:(?:the|a|an)\s+)?(?:next\s+|new\s+)?"
                            rf"(?:(?:v?\d+(?:\.\d+)+\S*|major|minor|patch)\s+)?(?:release|version|rc){_RELEASE_END}|"
                            r"(?:bump|move|update|set|start|begin|open|prepar(?=e|ing))(?:s|ed|ing|e)?\s+(?:to\s+|for\s+)?"
                            r"(?:the\s+|a\s+)?(?:next|new)\s+"
                            rf"(?:development|dev|snapshot)\s+(?:version|iteration|cycle){_RELEASE_END}|"
                            # structlog's 27 "Start new development cycle", square's "Prepare next development
                            # version." (okio 46, leakcanary 42 "Prepare for next development iteration"), pipx's
                            # "Post-release 1.2.0", tornado's "Post-release version bump", tqdm's "Back to dev
                            # version", mio's "Start development of v0.8", lerna's "Publish" (webpack-cli's
                            # "publish monorepo patches"): a version file and a changelog's new heading
                            r"(?:post[- ]?release(?:\s+(?:v?\d[\w.-]*|version(?:\s+bump)?|bump|update|steps))*|"
                            # a version's release notes, written from what the history holds since the
                            # last: forge's 35 "Update CHANGELOG.md for 6.0.1", okio's "Changelog for
                            # 3.16.4.", ripgrep's "changelog 0.7.1", git's "Update release notes to 2.7"
                            r"(?:(?:update[ds]?|updating|prepar(?:e|ing)|add(?:ed|s)?|write|wrote)\s+)?(?:the\s+)?"
                            r"(?:change\s?log|changes|release\s+notes|history|news)(?:\.\w+)?(?:\s+entr(?:y|ies))?"
                            r"(?:\s+(?:for|to|of))?(?:\s+the)?(?:\s+release)?(?:\s+of)?\s+v?\d+\.\d+[\w.+-]*?|"
                            r"back\s+to\s+(?:development|dev)(?:\s+(?:version|mode|cycle))?|"
                            r"(?:start|begin|open)(?:s|ed|ing)?\s+(?:the\s+)?development\s+(?:of|on|for)\s+v?\d[\w.-]*|"
                            r"publish(?:ed)?(?:\s+(?:a\s+|the\s+)?(?:new\s+)?(?:versions?|releases?|monorepo\s+patches|"
                            r"packages?))?"
                            r")\s*(?:\(#\d+\))?\s*[.!]?\s*$)", re.I)
# Mercurial's own tag commits, kept by a history converted to git: "Added tag 0.2.0.0 for
# changeset f4cf6abd5a81" (aeson: 42, each "Write .hgtags" or a line added to it), "Removed tag 1.0"
_HG_TAG = re.compile(r"^(?:Added tag \S.* for changeset [0-9a-f]{12,40}|Removed tag \S+)\s*$")
_REVERT = re.compile(r'^revert\b|^Revert "', re.I)
# ... and behind a prefix: 'fix: Revert "feat: ..."', "fix(factory): revert PR #3498", "revert
# b14919db": the task would be "undo that", which the commit alone cannot say (65 commits over
# 30 public histories, 34 of them vite's).
_REVERT_OF = re.compile(r'^revert(?:s|ed)?\s+(?:(?:pr|pull request)\s*#?\d+|#\d+|(?:commit\s+)?[0-9a-f]{7,40}\b|")',
                        re.I)
# `git subtree` pulling another repository's history in as one commit: "Squashed 'docs/' changes
# from 9be494de3..ac2c4a487" (159 of hugo's commits, 74 files each), and the first pull's
# "Squashed 'docs/' content from commit 4b825dc": no intent of their own.
_SUBTREE = re.compile(r"^Squashed '[^']+' (?:changes from|content from commit) [0-9a-f]{7,}")
_BOTS = re.compile(r"dependabot|renovate|greenkeeper|pre-commit-ci|snyk-bot", re.I)
# An automation account: a GitHub App ("github-actions[bot]", "street-side-software-automation[bot]")
# or an account named a bot ("home-manager-bot", "semantic-release-bot"). What it commits a script
# made: cspell's 2,163 examples of "fix: Workflow Bot -- Update Dictionaries" and "Update
# Integration Test Performance Data" (a fifth of its history's), svelte.dev's 147 of registry
# download counts and docs synced from other repositories. Coding agents that commit under a
# bot account write code for a person's task (a pull request's title): theirs are kept.
_AUTOMATION = re.compile(r"\[bot\]\s*$|[-_ ]bot\s*$|^bot\s*$", re.I)
_AGENTS = re.compile(r"copilot|devin|claude|cursor|codex|openhands|jules|sweep", re.I)
_WORD = re.compile(r"[a-z][a-z0-9']*")
_DOCS_LANGS = {"", "markdown", "rst", "text", "xml", "html", "css", "yaml", "json", "jinja", "asciidoc", "mdx",
               "liquid", "handlebars", "mustache", "ejs", "erb", "twig", "csv"}  # a docs site's templates and data


def _words(*pattern: str) -> re.Pattern[str]:
    """Whole words only: a hyphen or an underscore joins a word (`semver-patch` is one)."""
    return re.compile(r"(?<![\w-])(?:" + "|".join(pattern) + r")(?![\w-])", re.I)


# (class, weight, pattern): a message's score per class is the sum of the weights that match.
_RULES: list[tuple[str, float, re.Pattern[str]]] = [
    ("bugfix", 3.0, _words(r"fix(?:e[sd]|ing)?", r"bug(?:s|fix(?:es)?)?", r"hotfix", r"crash(?:e[sd]|ing)?",
                           r"regression", r"broke(?:n)?", r"breaks", r"incorrect(?:ly)?", r"wrong(?:ly)?",
                           r"leak(?:s|ed|ing)?", r"race condition", r"workaround", r"segfault",
                           r"traceback", r"unboundlocalerror", r"\w+error", r"patch(?:es|ed)?")),
    ("bugfix", 1.5, _words(r"prevent(?:s|ed|ing)?", r"avoid(?:s|ed|ing)?", r"fail(?:s|ed|ing|ures?)?",
                           r"errors?", r"exceptions?", r"missing", r"properly", r"correct(?:ly|s|ed|ion)?",
                           r"should(?:n't| not)", r"does(?:n't| not)", r"do(?:n't| not)", r"not work\w*",
                           r"can(?:'t|not)", r"unable", r"handle[sd]?", r"handling", r"ensure[sd]?",
                           r"restore[sd]?", r"issues?", r"problems?", r"instead of", r"invalid", r"mistakes?",
                           r"unexpected(?:ly)?", r"accidental(?:ly)?", r"edge case", r"when\b.*\bis (?:empty|none)",
                           r"empty", r"none", r"null", r"undefined", r"duplicate[sd]?", r"infinite",
                           r"respect(?:s|ed)?", r"honou?r(?:s|ed)?", r"off[- ]by[- ]one", r"warnings?",
                           r"ignor(?:e[sd]?|ing)", r"add missing", r"instead")),
    ("feature", 2.0, _words(r"add(?:s|ed|ing)?", r"support(?:s|ed|ing)?", r"implement(?:s|ed|ing)?",
                            r"introduc(?:e[sd]?|ing)", r"new", r"allow(?:s|ed|ing)?", r"enable[sd]?",
                            r"options?", r"can now", r"provide[sd]?", r"expose[sd]?", r"creat(?:e[sd]?|ing)",
                            r"initial", r"feature", r"commands?", r"flags?", r"argument", r"parameter")),
    ("refactor", 2.0, _words(r"refactor\w*", r"renam(?:e[sd]?|ing)", r"clean(?:ed|s)?[ -]?up", r"cleanup",
                             r"simplif\w+", r"extract(?:s|ed|ing)?", r"mov(?:e[sd]?|ing)", r"reorgani[sz]\w*",
                             r"restructur\w+", r"tidy", r"optimi[sz]\w*", r"speed(?:s|ed)? up", r"faster",
                             r"performance", r"perf", r"dedup\w*", r"consolidat\w+", r"replac(?:e[sd]?|ing)",
                             r"unused", r"dead code", r"lint(?:s|ing|er)?", r"reformat\w*", r"format(?:ting)?",
                             r"black", r"isort", r"ruff", r"flake8", r"pylint", r"mypy", r"typ(?:e|ing) hints?",
                            r"annotations?", r"typing", r"style", r"split", r"internal", r"deprecat\w+",
                             r"improve[sd]?", r"use", r"uses", r"remov(?:e[sd]?|ing)", r"drop(?:s|ped)?",
                             r"beautif\w+", r"alphabeti[sz]\w*", r"relocat\w+", r"convert(?:s|ed|ing)?",
                             r"speed", r"complexity", r"readab\w+", r"decoupl\w+", r"modulari[sz]\w*",
                             r"generali[sz]\w*", r"abstract\w*", r"inlin(?:e[sd]?|ing)", r"reorder\w*",
                             r"sort imports", r"helpers?", r"utils?", r"code")),
    ("test", 3.0, _words(r"tests?", r"testing", r"test ?cases?", r"unit ?tests?", r"coverage", r"pytest",
                         r"unittest", r"fixtures?", r"mock(?:s|ed|ing)?", r"specs?")),
    ("docs", 3.0, _words(r"docs?", r"documentation", r"document(?:s|ed|ing)?", r"readme", r"docstrings?",
                         r"changelog", r"typos?", r"spelling", r"grammar", r"wording", r"comments?",
                         r"examples?", r"tutorial", r"guide", r"faq", r"mkdocs", r"sphinx", r"badges?",
                         r"links?")),
    ("chore", 2.5, _words(r"ci", r"workflows?", r"github actions?", r"pre-commit", r"deps", r"dependabot",
                          r"dependenc(?:y|ies)", r"bump(?:s|ed)?", r"upgrad(?:e[sd]?|ing)", r"pin(?:s|ned)?",
                          r"tox", r"nox", r"travis", r"appveyor", r"codecov", r"gitignore", r"linters?")),
    ("chore", 0.8, _words(r"releas(?:e[sd]?|ing)", r"versions?", r"packaging", r"poetry", r"setup\.py",
                          r"pyproject(?:\.toml)?", r"makefile", r"docker\w*", r"build", r"builds",
                          r"config(?:uration)?", r"python \d\.\d+", r"py3\d+")),
]
# Chinese and Japanese subjects carry no spaces, so no word boundaries: the common verbs and
# nouns of each class (修复 fix, 新增 add, 重构 refactor, 优化 optimize, 测试 test, 文档 docs, 依赖
# dependency, 追加 add, 削除 delete, 不具合 defect). Written once from the vocabulary, then
# measured on xxl-job's 137 prefixed Chinese commits (see the README), not tuned there.
_CJK_TEXT = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
_RULES_CJK: list[tuple[str, float, re.Pattern[str]]] = [
    ("bugfix", 3.0, re.compile("修复|修正|修改bug|解决|漏洞|崩溃|不具合|バグ|异常|错误|报错|失效|问题")),
    ("feature", 2.0, re.compile("新增|增加|添加|支持|实现|新功能|引入|追加|対応|機能")),
    ("refactor", 2.0, re.compile("重构|优化|精简|简化|移除|删除|调整|整理|规范|提升|改进|リファクタ|削除|改善")),
    ("test", 3.0, re.compile("测试|单测|テスト")),
    ("docs", 3.0, re.compile("文档|注释|说明|手册|ドキュメント|コメント")),
    ("chore", 2.5, re.compile("依赖|升级|版本|发布|构建|打包|依存|リリース")),
]
_FIX_WORDS = _RULES[0][2]  # fix, bug, crash, regression, broken, wrong, leak, segfault, ...Error
_SYMPTOM_WORDS = _RULES[1][2]  # fails, errors, missing, doesn't, can't, invalid, unexpected ...


_FIX_WORDS_CJK = re.compile("修复|修正|解决|不具合|バグ")


# The area a subject names before what it does, as git, Linux, Go and curl write them ("odb:
# remove ...", "refs/files: skip ...", "git-mergetool--lib.sh: use ..."): a conventional prefix's
# scope in all but name, set aside like one where the subject's first word is read (not where
# the area may name a linter: "ruff: apply fixes").
_AREA = re.compile(r"[a-z][\w./+-]*(?:[ \t]*,[ \t]*[a-z][\w./+-]*)*:[ \t]+(?=\S)")


def _task(subject: str) -> str:
    """The subject's first sentence, its prefix aside: what the task says (`split_subject`)."""
    return split_subject(conventional(subject)[1])[0]


def says_fix(subject: str) -> bool:
    """Does the subject (its prefix aside; its first sentence, the task) say in so many words
    that it fixes something? ecto's "adding validate_confirmation to ecto changeset validations.
    Changing the requirements ... Also fixed typos." asked to find a bug in a new feature."""
    rest = _task(subject)
    return _FIX_WORDS.search(rest) is not None or _FIX_WORDS_CJK.search(rest) is not None


# What a linter, a type checker or a formatter found, or a typo: fixed, but no bug to find
# ("Bug fix: Apply ruff fixes ... Find the bug in this code": jinja; flask's "Fix mypy finding",
# "Fix pyright type errors"; "Fix typos", "flake8 fixes", "Fix clippy warnings").
_TOOL = (r"(?:ruff|lint(?:er|ing)?|flake8|pylint|pyflakes|mypy|pyright|eslint|tslint|clippy|rubocop|pep ?8|"
         r"black|isort|prettier|gofmt|golint|checkstyle|style|formatting|typos?|spelling|misspellings?|"
         # code-quality services and analysers of style (imbalanced-learn's "Lgtm fix", commons-csv's
         # "PMD: Unnecessary use of fully qualified name")
         r"lgtm|sonar(?:qube|cloud|lint)?|pmd|spotbugs|findbugs|codespell|stylelint|ktlint|detekt|swiftlint|"
         r"golangci(?:-lint)?|pyupgrade|pre-commit|"
         # coding standards, as PHP projects say it (symfony/console's 42 "Fixed CS": 31 of its
         # debugging examples and 7 review pairs), and the fixers of them
         r"cs|code[- ]style|coding[- ]standards?|php-?cs(?:-fixer)?|cs-fixer|"
         r"(?:compiler|build|deprecation)\s+warnings?|warnings?|type[- ]?(?:check(?:ing|er)?\s+)?(?:errors?|issues?)|"
         # an analyser's rule ids, in capitals: Polly's "Fix IDE0044 warnings", "Fix S3253/S6605/SA1625/S103
         # warnings" (StyleCop, Sonar, Roslyn), pycodestyle's E501, not a pull request's "PR1234"
         r"(?-i:(?!PR|GH|BUG)[A-Z]{1,4}\d{3,5}(?:\s*[/,&]\s*(?:[A-Z]{1,4}/?)?\d{3,5})*))")
# ... the tool or the typo ends the phrase, or errors, findings, "in", "for" ... follow it: "Fix
# style attribute being dropped", "Fix warning box layout", "Fix black screen" are bugs.
_TOOL_NOUN = r"(?:\s+(?:fix(?:es)?|errors?|issues?|findings?|warnings?|complaints?|nits?)\b)"
_AFTER_TOOL = (r"(?=\s*(?:$|[.,;:!()\[\x22]|'(?!s\b)|"  # a quote opens what was fixed; not "mypy's tests"
               r"(?:in|for|on|from|and|across|throughout|after|with|to|reported|found|here|there)\b))")
_DOCS = r"(?:javadocs?|jsdoc|docs?|documentation|docstrings?|doc[- ]?comments?|comments?)"  # what documents code
_TOOL_FIX = re.compile(
    rf"(?:\b(?:fix(?:e[sd]|ing)?|correct(?:ed|s|ing)?|resolve[sd]?|address(?:es|ed)?|apply|applied)\s+"
    rf"(?:(?:a|an|the|some|all|more|several|new|remaining|minor|various|few|of|[\w-]+'s|{_TOOL})\s+){{0,2}}|^\s*)"
    rf"{_TOOL}\b{_TOOL_NOUN}?{_AFTER_TOOL}|\b{_TOOL}{_TOOL_NOUN}|"
    # what the tool found, told after the fix: gunicorn's "Some fixes discovered with pyflakes"
    # ("Find the bug" in a change that drops unused imports), "Fix issues found by pylint"
    rf"\bfix(?:e[sd]|ing)?\s+(?:[\w'-]+\s+){{0,4}}?(?:found|discovered|reported|caught|spotted|detected|flagged|"
    rf"revealed|pointed\s+out)\s+(?:by|with|using|via|from)\s+(?:the\s+|running\s+)?{_TOOL}\b{_TOOL_NOUN}?{_AFTER_TOOL}|"
    # what documents the code, fixed: junit4's "fixed Javadoc "its" micros -> toMicros ..." (a review
    # pair of its renames), "Fix docs", "Fix the docstring", "Fix documentation of ..."; not "Apply doc
    # comments for ..." (clap: a feature), "Fix docs build", "Fix comment parsing"
    rf"\b(?:fix(?:e[sd]|ing)?|correct(?:ed|s|ing)?)\s+(?:(?:a|an|the|some|all|more|several|minor|various|few|wrong|"
    rf"incorrect|outdated|misleading|[\w-]+'s)\s+){{0,2}}{_DOCS}{_TOOL_NOUN}?"
    rf"(?=\s*(?:$|[.,;:!()\[\x22]|'(?!s\b)|(?:in|for|of|on|about)\b))|"
    # ... or the fix named after them: rich's "doc fix", "docs fixes", "comment fixes"
    rf"\b{_DOCS}\s+fix(?:es)?{_AFTER_TOOL}",
    re.I)


_CAUSED = re.compile(r"\bcaus(?:e[sd]?|ing)\b", re.I)


def tooling_fix(subject: str) -> bool:
    """Does the subject (its first sentence) say it fixes what a linter, type checker or
    formatter found, or a typo, and no more? jinja's "Fixed typo in parser.py that caused a
    broken traceback on syntax errors" and flask's "Fixed warning and broken tests on 3.3" fix
    bugs all the same."""
    first = _task(subject)
    found = _TOOL_FIX.search(first)
    if found is None:
        return False
    after = first[found.end():]
    if not first[:found.start()].strip():
        # the tool as the subject's area: ripgrep's "clippy: fix warnings about useless format
        # call ...", "lint: fix a few Clippy errors": the fix is the tool's
        after = _AREA_FIX.sub("", after)
    rest = first[:found.start()] + " " + after
    return _FIX_WORDS.search(rest) is None and _CAUSED.search(rest) is None


_AREA_FIX = re.compile(r"^\s*:\s*(?:fix(?:e[sd]|ing)?|address(?:es|ed)?|silence[sd]?|appease)\b", re.I)


def framed_as_fix(kind: str, confidence: float, subject: str, threshold: float) -> bool:
    """Are a commit's examples framed as a fix ("Bug fix: ... find the bug", review pairs)? A
    bugfix decided with `threshold` or more of the probability, or whose subject says so; never
    one that fixes what a linter or type checker found, or a typo (`tooling_fix`), nor one whose
    subject says a tidying and no fix (`tidy_said`)."""
    return (kind == "bugfix" and (confidence >= threshold or says_fix(subject)) and not tooling_fix(subject)
            and not tidy_said(subject))


# A subject that starts by saying a tidying (commons-io's 65 "Sort members", "Format tweak",
# "Reorder imports", "Rename variable"): the prior called some of them fixes, sure enough to ask
# "find the bug" in members sorted by name. Not "Use ..." or "Remove ...": "Use the right
# encoding", "Remove the race" are fixes.
_TIDY_FIRST = re.compile(r"\s*(?:sort(?:ed|s)?|reorder(?:ed|s)?|re-?format(?:ted|s)?|format(?:ted|s)?|tid(?:y|ied|ies)|"
                         r"clean(?:ed)?(?:[ -]?up)?|cleanup|renam(?:e|ed|es)|mov(?:e|ed|es)|extract(?:ed|s)?|"
                         r"inline[ds]?|refactor(?:ed|s|ing)?|restructur(?:e|ed|es)|reorgani[sz](?:e|ed|es)|revamp(?:ed|s)?|"
                         r"simplif(?:y|ied|ies))\b", re.I)


def tidy_said(subject: str) -> bool:
    """Does the subject's first word say a tidying (sort, format, rename, move, refactor ...),
    and no word of it a fix or a symptom ("Move fails on Windows")?"""
    task = _task(subject)
    if (area := _AREA.match(task)) is not None:
        task = task[area.end():]  # git's "clone: refactor wanted_peer_refs()"
    return _TIDY_FIRST.match(task) is not None and not says_fix(subject) and _SYMPTOM_WORDS.search(task) is None


# A subject that speaks of continuous integration or its tools: peft's "CI: Install
# pytest-reportlog package", "torch compile gh action installs pytest", "Fix travis build",
# tox's envlist, a pre-commit hook, a workflow, the build matrix.
_CI_SAID = re.compile(r"\b(?:ci|cd|travis|tox|nox|appveyor|azure|circle ?ci|github actions?|gh actions?|actions?|"
                      r"workflows?|pipelines?|pre-commit|hooks?|matrix|jenkins|gitlab|buildkite|cirrus|drone|"
                      r"runners?|jobs?|lint(?:s|ers?|ing)?|linters?|flake8|ruff|mypy|coverage|codecov)\b", re.I)


def ci_said(subject: str) -> bool:
    """Does the subject speak of continuous integration, its services, hooks or linters?"""
    return _CI_SAID.search(subject) is not None


# The first word of an imperative subject says most: "Add", "Fix", "Rename", "Document".
_FIRST = {"add": "feature", "adds": "feature", "added": "feature", "support": "feature", "allow": "feature",
          "implement": "feature", "introduce": "feature", "enable": "feature", "expose": "feature",
          "fix": "bugfix", "fixes": "bugfix", "fixed": "bugfix", "avoid": "bugfix", "prevent": "bugfix",
          "handle": "bugfix", "correct": "bugfix", "restore": "bugfix", "ensure": "bugfix", "don't": "bugfix",
          "do": "bugfix", "catch": "bugfix", "guard": "bugfix", "rename": "refactor", "move": "refactor",
          "extract": "refactor", "simplify": "refactor", "refactor": "refactor", "clean": "refactor",
          "cleanup": "refactor", "remove": "refactor", "use": "refactor", "replace": "refactor",
          "split": "refactor", "reorganize": "refactor", "optimize": "refactor", "improve": "refactor",
          "document": "docs", "documentation": "docs", "docs": "docs", "doc": "docs", "readme": "docs",
          "bump": "chore", "upgrade": "chore", "pin": "chore", "release": "chore", "ci": "chore",
          "test": "test", "tests": "test", "cover": "test",
          # ... and to enhance or extend it is to add to it (kotlinpoet's "Enhanced TypeName(s) with
          # List<AnnotationSpec>" beside its tests was a bugfix by "code changed with its tests")
          "enhance": "feature", "extend": "feature", "provide": "feature", "create": "feature", "caught": "bugfix"}


def _inflected(first: dict[str, str]) -> dict[str, str]:
    """`first` with its verbs' other forms: "implemented", "supports", "moving" open a subject as
    "implement", "support" and "move" do (the rules read the first word as written)."""
    out = dict(first)
    for verb in _VERBS:
        if verb.endswith("y"):
            forms = (verb[:-1] + "ies", verb[:-1] + "ied", verb + "ing")
        elif verb.endswith("e"):
            forms = (verb + "s", verb + "d", verb[:-1] + "ing")
        else:
            last = verb + verb[-1] if verb in ("pin", "split") else verb
            forms = (verb + ("es" if verb.endswith(("x", "ch", "sh")) else "s"), last + "ed", last + "ing")
        for form in forms:
            out.setdefault(form, first[verb])
    return out


_VERBS = ("add", "support", "allow", "implement", "introduce", "enable", "expose", "enhance", "extend", "provide",
          "create", "fix", "avoid", "prevent", "handle", "correct", "restore", "ensure", "catch", "guard", "rename",
          "move", "extract", "simplify", "refactor", "clean", "remove", "use", "replace", "split", "reorganize",
          "optimize", "improve", "document", "bump", "upgrade", "pin", "release", "test", "cover")


_FIRST = _inflected(_FIRST)


def conventional(subject: str) -> tuple[str | None, str]:
    """(the class a conventional prefix or a gitmoji names, or None; the subject without them)."""
    code, after = gitmoji(subject)
    if code is not None:
        kind, rest = conventional(after)  # "✨ feat: ..." says it twice: the prefix decides
        return kind or _GITMOJI.get(code), rest
    m = _PREFIX.match(subject) or _BRACKET_TAG.match(subject) or _CAPS_TAG.match(subject)
    if m is None:
        return None, subject.strip()
    word = m.group(1)
    tag = word.lower()
    if tag in _CAPS_ONLY and not word.isupper():
        return None, subject.strip()
    colon_less = m.re is _CAPS_TAG
    if (tag in _CLASSLESS_TAGS and not colon_less) or (tag in _BRACKET_ONLY_CLASSLESS and m.re is _BRACKET_TAG):
        return conventional(subject[m.end():])  # "[MRG] FIX ...": a tag after it decides
    if (kind := CONVENTIONAL.get(tag)) is None:
        return None, subject.strip()
    if colon_less:
        if _SENTENCE_GOES_ON.match(subject, m.end()):
            # peft's "FIX for disabling adapter", "FIX the sampler's seed": a word of the sentence
            return kind, (subject[:m.start(1)] + word.capitalize() + subject[m.end(1):]).strip()
        # "TST FIX Bug with hard-coded device": the first tag decides, the next is cut too
        nxt = _CAPS_TAG.match(subject, m.end())
        if nxt is not None and nxt.group(1).lower() in CONVENTIONAL:
            return kind, subject[nxt.end():].strip()
    return kind, subject[m.end():].strip()


def skip_reason(subject: str, author: str = "") -> str | None:
    """Commits that teach no coding: dependency bumps, releases, reverts, subtree squashes, and
    what automation accounts commit (`bot_commit`)."""
    kind, rest = conventional(subject)
    if gitmoji(subject)[0] in _GITMOJI_BUMPS:
        return "dependency_bump"  # ":arrow_up: updated to Catch 2.13.7", "⬆️ Bump rexml from 3.2.6 to 3.2.8"
    if _BUMP.search(subject) or (_BOTS.search(author) and re.search(r"\b(bump|update|upgrade)\b", subject, re.I)):
        return "dependency_bump"
    if (kind == "release" or _RELEASE.match(rest) or _RELEASE_SCOPE.match(subject) or _BUMPED_TO.match(subject)
            or _HG_TAG.match(subject) or _RELEASE_CHORE.match(rest) or _NAMED_RELEASE.match(rest)):
        return "release"
    if kind == "revert" or _REVERT.match(subject) or _REVERT_OF.match(rest):
        return "revert"
    if _SUBTREE.match(subject):
        return "subtree"
    if _AUTOMATION.search(author) and not _AGENTS.search(author):
        return "bot_commit"
    return None


@dataclass
class Shape:
    """What the diff shows, for classifying without reading it again."""

    paths: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)  # A, M, D per path
    added: int = 0
    removed: int = 0


@functools.lru_cache(maxsize=1 << 16)
def _docs_like(path: str) -> bool:
    """Documentation for classifying: prose, and the images and pages under a docs folder."""
    return files.is_docs(path) or (files.DOCS_DIR.search(path) is not None and
                                   files.language(path) in _DOCS_LANGS)


def _path_class(paths: list[str]) -> str | None:
    if not paths:
        return None
    if all(files.is_test(p) for p in paths):
        return "test"
    if all(_docs_like(p) for p in paths):
        return "docs"
    if all(files.is_build(p) or _docs_like(p) for p in paths):
        return "chore"
    return None


def rules(message: str, shape: Shape) -> str:
    """A class from the words of a message without prefix, its paths and the diff's shape."""
    by_path = _path_class(shape.paths)
    if by_path is not None:
        return by_path
    score: dict[str, float] = {}  # a class is in it once a word or a path counted for it
    first = (_WORD.findall(message.lower()[:40]) or [""])[0]
    if first in _FIRST:
        score[_FIRST[first]] = 2.5
    subject = message.split("\n", 1)[0]
    body = message[len(subject):len(subject) + 600]
    for kind, weight, pattern in _RULES + _RULES_CJK if _CJK_TEXT.search(subject) else _RULES:
        hits = len(pattern.findall(subject)) + (0.3 * len(pattern.findall(body)) if body else 0)
        if hits:
            score[kind] = score.get(kind, 0.0) + weight * min(hits, 2.0)
    code = [p for p in shape.paths if not files.is_docs(p) and not files.is_build(p)]
    if code and any(files.is_test(p) for p in code) and not all(files.is_test(p) for p in code):
        score["bugfix"] = score.get("bugfix", 0.0) + 0.5  # code changed with its tests: most often a fix
    if score.get("docs") and code and not all(files.is_docs(p) for p in shape.paths):
        score["docs"] *= 0.4  # "update docs for the new option" beside code is not a docs commit
    if score.get("test") and code and not all(files.is_test(p) for p in code):
        score["test"] *= 0.5
    if score:
        return max(CLASSES, key=lambda k: score.get(k, 0.0))  # ties go to the earlier class
    if shape.statuses and all(s == "A" for s in shape.statuses):
        return "feature"
    if shape.added and shape.removed and 0.8 <= shape.added / shape.removed <= 1.25:
        return "refactor"
    return "feature"


def features(message: str, shape: Shape, rule: str) -> list[str]:
    """The bag of features the per-repo classifier sees."""
    words = _WORD.findall(message.lower())
    out = [f"w:{w}" for w in words[:60]]
    if words:
        out.append(f"first:{words[0]}")
    for p, s in zip(shape.paths[:40], shape.statuses[:40] or ["M"] * 40, strict=False):
        top = p.split("/", 1)[0] if "/" in p else "."
        ext = p.rpartition(".")[2] if "." in p.rpartition("/")[2] else "none"
        kind = ("test" if files.is_test(p) else "docs" if files.is_docs(p) else
                "build" if files.is_build(p) else "code")
        out += [f"dir:{top}", f"ext:{ext}", f"kind:{kind}", f"status:{s}"]
    n = len(shape.paths)
    out.append(f"nfiles:{'1' if n <= 1 else '2-3' if n <= 3 else '4+'}")
    # The subject's words once more (they say more than the body's), and what the commit
    # touches as a whole: tests, prose, new files (none, some or all of its paths).
    out += [f"s:{w}" for w in _WORD.findall(message.split("\n", 1)[0].lower())[:20]]
    if n:
        for name, hits in (("tests", sum(map(files.is_test, shape.paths))),
                           ("prose", sum(map(files.is_docs, shape.paths))),
                           ("added", shape.statuses.count("A"))):
            out.append(f"{name}:{'none' if not hits else 'all' if hits == n else 'some'}")
    out += [f"rule:{rule}"] * 3
    return out


@dataclass
class Model:
    """Multinomial naive Bayes over a repo's own prefixed commits (`features` and the prior's
    features), each commit weighted by recency, combined log-linearly with the cross-repo prior:
    score = `weight` * log p_repo + log p_prior. Without a prior it is plain naive Bayes. With
    `tuned` (the prior tuned to the same commits, `prior.tuned`) the answer mixes both:
    `TUNE_MIX` * log p_tuned + (1 - `TUNE_MIX`) * log p_(naive Bayes and prior), over the
    classes the repo labels."""

    classes: list[str]
    base: list[float]  # per class: log of its share of the training commits
    table: dict[str, list[float]]  # feature -> per class, log(weighted count + 1)
    denom: list[float]  # per class: log(its weighted feature count + vocabulary + 1)
    prior: Prior | None = None
    weight: float = PRIOR_MIX
    tuned: Prior | None = None

    @classmethod
    def train(cls, samples: Iterable[tuple[list[str], str]], weights: Iterable[float] | None = None,
              min_per_class: int = 5, prior: Prior | None = None, weight: float = PRIOR_MIX) -> Model | None:
        counts: dict[str, defaultdict[str, float]] = {}
        docs: defaultdict[str, float] = defaultdict(float)
        seen: Counter[str] = Counter()
        ws = iter(weights) if weights is not None else None
        for feats, label in samples:
            w = next(ws) if ws is not None else 1.0
            c = counts.setdefault(label, defaultdict(float))
            for f in feats:
                c[f] += w
            docs[label] += w
            seen[label] += 1
        labels = [k for k in CLASSES if seen[k] >= min_per_class]
        if len(labels) < 2:
            return None
        total = math.fsum(docs[k] for k in labels)  # exact sums: the same model whatever the order
        vocab = {f for k in labels for f in counts[k]}
        return cls(classes=labels, base=[math.log(docs[k] / total) for k in labels],
                   table={f: [math.log(counts[k].get(f, 0) + 1) for k in labels] for f in vocab},
                   denom=[math.log(math.fsum(counts[k].values()) + len(vocab) + 1) for k in labels],
                   prior=prior, weight=weight)

    def scores(self, feats: list[str], prior_feats: set[str] | None = None) -> list[float]:
        """Per class in `classes`: the log-linear score (the higher, the likelier)."""
        get = self.table.get
        hits = [t for f in feats if (t := get(f)) is not None]
        cols = list(zip(*hits, strict=True)) if hits else [()] * len(self.base)  # per class, C-level sums
        z = [b - len(feats) * d + math.fsum(col) for b, d, col in zip(self.base, self.denom, cols, strict=True)]
        if self.prior is not None and prior_feats is not None:
            lp = self.prior.logp(prior_feats)
            z = [self.weight * v + lp[_INDEX[k]] for v, k in zip(z, self.classes, strict=True)]
            if self.tuned is not None:
                top = max(z)
                norm = top + math.log(math.fsum(math.exp(v - top) for v in z))
                lt = self.tuned.logp(prior_feats)
                z = [TUNE_MIX * lt[_INDEX[k]] + (1 - TUNE_MIX) * (v - norm)
                     for v, k in zip(z, self.classes, strict=True)]
        return z

    def predict(self, feats: list[str], prior_feats: set[str] | None = None) -> tuple[str, float]:
        """(class, its share of the probability)."""
        z = self.scores(feats, prior_feats)
        top = max(z)
        return self.classes[z.index(top)], 1.0 / sum(math.exp(v - top) for v in z)


def decide(subject: str, body: str, shape: Shape, model: Model | None = None,
           llm_label: str | None = None, use_prior: bool = True) -> tuple[str, str]:
    """(class, how it was decided: prefix | llm | model | prior | rules)."""
    kind, how, _ = decide_scored(subject, body, shape, model, llm_label, use_prior)
    return kind, how


def decide_scored(subject: str, body: str, shape: Shape, model: Model | None = None,
                  llm_label: str | None = None, use_prior: bool = True) -> tuple[str, str, float]:
    """`decide`, and how sure: the class's share of the probability where the repo model or
    the prior decides, 1.0 for a prefix, the LLM's answer or the rules (0.5 for the rules on a
    Chinese or Japanese subject that names no word of the class)."""
    kind, rest = conventional(subject)
    if kind in CLASSES:
        return kind, "prefix", 1.0
    if llm_label in CLASSES:
        return llm_label, "llm", 1.0
    message = (rest + "\n\n" + body.strip()).strip()
    seen = Shape(shape.paths, shape.statuses)  # what `history` gives training: no line counts
    rule = rules(message, seen)
    if model is not None:
        pf = prior.features(message, seen.paths, seen.statuses, rule)
        kind, share = model.predict(model_features(message, seen, rule, pf), pf if model.prior is not None else None)
        return kind, "model", share
    cjk = _CJK_TEXT.search(rest) is not None
    if use_prior and not cjk and (shipped := prior.load()) is not None:
        kind, share = by_prior_scored(shipped, message, seen, rule)
        return kind, "prior", share
    kind = rules(message, shape)
    if use_prior and cjk:
        # The prior learned English words only: a Chinese or Japanese subject gives it the paths
        # alone, and the rules read its words (xxl-job: rules 71.5%, prior 58.4%). Sure (1.0)
        # only when the subject itself holds a word of the class: "code changed with its tests"
        # alone makes a bugfix the rules are not sure of (0.5), framed as the change it is.
        said = any(k == kind and p.search(rest) for k, _, p in _RULES + _RULES_CJK)
        return kind, "rules", 1.0 if said else 0.5
    return kind, "rules", 1.0


def by_prior(model: Prior, message: str, shape: Shape, rule: str) -> str:
    """The prior's class with a nudge towards the rules' (a repo without prefixed commits)."""
    return by_prior_scored(model, message, shape, rule)[0]


def by_prior_scored(model: Prior, message: str, shape: Shape, rule: str) -> tuple[str, float]:
    """`by_prior`, and the class's share of the probability (after the nudge)."""
    lp = model.logp(prior.features(message, shape.paths, shape.statuses, rule))
    lp[_INDEX[rule]] += RULE_BONUS
    top = max(lp)
    return CLASSES[lp.index(top)], 1.0 / math.fsum(math.exp(v - top) for v in lp)


@dataclass
class Logged:
    """A commit as `history` reads it: no patch, just message, author and touched paths."""

    sha: str
    author: str
    subject: str
    body: str
    shape: Shape


def history(repo: str, rev: str, limit: int) -> list[Logged]:
    """The newest `limit` non-merge commits reachable from `rev`, newest first, with
    `--name-status` (cheap: trees only, no blob diffs)."""
    import subprocess

    out = subprocess.run(["git", "-C", repo, "-c", "core.quotepath=off", "log", "--no-merges", "--no-renames",
                          f"-n{limit}", "--format=\x1e%H\x1f%an\x1f%B\x1f", "--name-status", rev, "--"],
                         capture_output=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{repo}: git log --name-status failed: "
                           f"{out.stderr.decode('utf-8', 'replace').strip()[:300]}")
    result = []
    for rec in out.stdout.decode("utf-8", "replace").split("\x1e")[1:]:
        sha, author, rest = (rec.split("\x1f", 2) + [""] * 3)[:3]
        raw, _, names = rest.rpartition("\x1f")  # a message may hold the separator: the paths never do
        subject, body = split_message(raw)
        shape = Shape()
        for ln in names.strip().split("\n"):
            status, _, path = ln.partition("\t")
            if path:
                shape.paths.append(path)
                shape.statuses.append(status[:1] if status[:1] in ("A", "D") else "M")
        result.append(Logged(sha, author, subject, body, shape))
    return result


def model_features(message: str, shape: Shape, rule: str, prior_feats: set[str] | None = None) -> list[str]:
    """The per-repo model's features: `features` and the prior's (`prior_feats` when the caller
    has them already)."""
    if prior_feats is None:
        prior_feats = prior.features(message, shape.paths, shape.statuses, rule)
    return features(message, shape, rule) + sorted(prior_feats)


def recency(n: int) -> list[float]:
    """Training weights, oldest first: 0.3 for the oldest commit up to 1.7 for the newest (a
    repo's conventions drift; measured: +0.5 to +1 point held out)."""
    return [0.3 + 1.4 * i / max(1, n - 1) for i in range(n)]


def train_model(logged: Iterable[Logged], min_commits: int, with_prior: bool = True) -> Model | None:
    """A per-repo model from the commits that carry a conventional prefix (`logged` newest
    first, as `history` gives them), combined with the shipped prior when it loads; None when
    the repo has fewer than `min_commits` of them."""
    rows = []
    for c in logged:
        kind, rest = conventional(c.subject)
        if kind not in CLASSES or skip_reason(c.subject, c.author):
            continue
        rows.append(((rest + "\n\n" + c.body.strip()).strip(), c.shape, kind))
    if len(rows) < min_commits:
        return None
    rows.reverse()  # oldest first, as `recency` weighs them
    return repo_model(rows, prior.load() if with_prior else None)


def repo_model(rows: list[tuple[str, Shape, str]], base: Prior | None, min_per_class: int = 5) -> Model | None:
    """The repo model of its prefixed commits (message without the prefix, shape, class; oldest
    first): naive Bayes mixed with `base`, and `base` tuned to the same commits; naive Bayes
    alone without a prior. None when fewer than two classes have `min_per_class` commits."""
    weights = recency(len(rows))
    samples = []
    for message, shape, kind in rows:
        rule = rules(message, shape)
        pf = prior.features(message, shape.paths, shape.statuses, rule)
        samples.append((model_features(message, shape, rule, pf), pf, kind))
    model = Model.train([(f, k) for f, _, k in samples], weights, min_per_class, prior=base)
    if model is not None and base is not None:
        model.tuned = prior.tuned(base, [(pf, k) for _, pf, k in samples], weights)
    return model

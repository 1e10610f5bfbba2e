"""`[sources.coder.git]`: how repositories are mined (light: the daemon's config imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aitherd.llm import EndpointConfig
from aitherd.sources.credfiles import CREDENTIAL_FILES


class DocsConfig(BaseModel):
    """Documentation edits (.md, .rst, .txt, READMEs, changelogs): their own share of examples."""

    model_config = ConfigDict(extra="forbid")

    keep: float = Field(default=1.0, ge=0, le=1)  # share of commits whose docs edits are kept
    weight: float = Field(default=0.5, gt=0)  # their sampling weight at export (code examples: 1.0)


class GitMiningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    first_run_commits: int = Field(default=500, ge=1)
    context_lines: int = Field(default=10, ge=0)
    max_diff_bytes: int = Field(default=200_000, ge=1)  # patch of the files kept; larger: skipped, counted
    max_hunk_lines: int = Field(default=120, ge=1)
    min_changed_lines: int = Field(default=1, ge=1)
    max_example_chars: int = Field(default=12_000, ge=500)  # a larger group splits per file
    max_example_files: int = Field(default=5, ge=1)
    # a group split per file gives at most this many examples (a deterministic sample by path);
    # a sweep over 50 files (a yearly copyright bump, pyupgrade) is not 50 examples
    max_split_examples: int = Field(default=6, ge=1)
    # A Python hunk whose rows hold no whole statement is cut again with up to this many lines of
    # the file on either side (its blob, read with `git cat-file`): flask's unlabelled python
    # snippets 874 -> 447, for about a tenth more of the miner's CPU (polars: a sixth). 0: off.
    python_context_lines: int = Field(default=30, ge=0, le=200)
    # A pattern without "/" names a file in any folder (as in .gitignore); one with "/" matches
    # the path from the root, `*` crossing folders.
    skip_paths: list[str] = Field(default_factory=lambda: [
        "vendor/*", "*/vendor/*", "node_modules/*", "*/node_modules/*", "third_party/*",
        "*.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum",
        "*.min.js", "*.min.css", "*_pb2.py", "*_pb2_grpc.py", "*.pb.go", "*.generated.*", "dist/*",
        # more lock files: Go workspaces, npm's shrinkwrap, NuGet (ShareX: 5 examples), SwiftPM,
        # Terraform's provider checksums, Gradle's locks and dependency verification
        "go.work.sum", "npm-shrinkwrap.json", "packages.lock.json", "Package.resolved", ".terraform.lock.hcl",
        "gradle.lockfile", "verification-metadata.xml",
        # build output committed beside its source: hono's deno_dist/ mirrors src/ (1,029 examples,
        # a fifth of its history's, most of them not near-duplicates to the curator: 0.77 median)
        "*/dist/*", "*_dist/*", "*-dist/*",
        # ... and what a folder's name says is generated: svelte.dev's src/lib/server/generated/
        # registry (111 files of download counts a bot refreshes), electron-builder's snapshots,
        # BentoML's docker/generated, Relay's __generated__
        "generated/*", "*/generated/*", "__generated__/*", "*/__generated__/*",
        "build/*", "*.svg", "*.map", "*.snap", "*/__snapshots__/*",
        # insta's snapshots not yet accepted (gleam: 109 "*.snap.new" snippets)
        "*.snap.new", "*.pending-snap",
        # what Xcode and IntelliJ write for the user: Alamofire's project.pbxproj (object ids)
        # and schemes were in 241 of its 2,606 examples
        "*.pbxproj", "*.xcscheme", "*.xcworkspacedata", "*.xcuserstate", "*.storyboard", "*.xib", "*.iml",
        "*.xcbaseline/*",
        # ... and Xcode's workspace settings, Eclipse's project files and preferences (bloc's Flutter
        # examples: 18 "Write .../IDEWorkspaceChecks.plist", WorkspaceSettings.xcsettings, .project)
        "IDEWorkspaceChecks.plist", "*.xcsettings", ".project", ".classpath", ".settings/*", "*/.settings/*",
        ".springBeans",
        # what game engines' editors write: Godot's scenes, resources, import settings and uids,
        # Unity's .meta files, scenes and prefabs (godot-demo-projects: 3,100 unlabelled snippets)
        "*.tscn", "*.tres", "*.import", "*.uid", "*.meta", "*.unity", "*.prefab",
        # a built Apple bundle or framework committed beside its source (SwiftFormat's "SwiftFormat
        # for Xcode.app": 311 examples of its Info.plist files and _CodeSignature hashes)
        "*.app/Contents/*", "*.appex/Contents/*", "*/_CodeSignature/*", "*.framework/*", "*.xcframework/*",
        # Dart's build_runner output, whatever header its generator version wrote
        "*.g.dart", "*.freezed.dart",
        # what Visual Studio's Windows Forms designer writes (InitializeComponent): no header says
        # so, its name does (as GitHub's linguist reads it); ShareX: 835 examples
        "*.Designer.cs", "*.designer.cs", "*.Designer.vb", "*.designer.vb",
        # git's map of contributors' names and emails: no code, and personal data (magit: 102 snippets);
        # who owns which path (home-manager: 201 CODEOWNERS snippets, one the "code change" shown
        # beside a new module's tests); commit ids for blame to pass over
        ".mailmap", "CODEOWNERS", ".git-blame-ignore-revs",
        # Julia's and opam's resolved dependencies (Flux.jl's Manifest.toml: git-tree-sha1 and uuid
        # lines under "Up cuda+zygote deps"); Visual Studio's solution files (project GUIDs)
        "Manifest.toml", "JuliaManifest.toml", "Manifest-v*.toml", "*.opam.locked", "*.sln",
        # Mercurial's tags (a changeset id per release: jinja's history from hg, 7 snippets), and
        # a log a run wrote (sinatra's examples/hello/development.log)
        ".hgtags", "*.log",
        # what a merge or a patch left behind: AutoMapper's default.ps1.orig and three more (one a
        # copy of a file with its conflict markers), mypy's 16 (checker.py.orig), curl's 2
        "*.orig", "*.rej",
        # Kotlin's binary-compatibility-validator writes each module's public API to api/*.api
        # (`apiDump`; okio: "Write okio-fakefilesystem/api/okio-fakefilesystem.api", 20 examples);
        # Visual Studio's per-user folder (spdlog: browse databases and precompiled headers)
        "api/*.api", "*/api/*.api", ".vs/*", "*/.vs/*",
        # a change's release-note fragment, written for a tool that assembles the changelog: the
        # changesets CLI's randomly named entries (pnpm: 3,078 of its 27,037 examples, "Write
        # .changeset/good-apes-smile.md"), covector's (tauri), towncrier's and scriv's numbered news
        # fragments (pipx 734 files, attrs 656): the package list and bump type the author chose
        ".changeset/*.md", "*/.changeset/*.md", ".changeset/*/changes.*", ".changes/*.md", "*/.changes/*.md",
        "changelog.d/*", "*/changelog.d/*", "newsfragments/*", "*/newsfragments/*", "changelog/[0-9]*.*",
        "changes/[0-9]*.*", "news/[0-9]*.*"])
    # Translation catalogs into other languages than English (files.is_translation: .po, a
    # culture's .resx, XLIFF, values-fr/strings.xml, locales/fr.json ...) teach translating, not
    # code: skipped and counted (files.translation) unless this is true.
    translations: bool = False
    # never mined, counted as skipped (files.credential_file): aitherd/sources/credfiles.py
    credential_files: list[str] = Field(default_factory=lambda: list(CREDENTIAL_FILES))
    docs: DocsConfig = Field(default_factory=DocsConfig)
    review_days: int = Field(default=365, ge=0)  # review pairs: blame no further back; 0: none
    # An intent that says nothing a model could act on ('copy', 'wip', 'Update README.md' with no
    # body) is no task for editing, docs or new-file examples: skipped as vague_intent.
    skip_vague_intents: bool = True
    classifier: bool = True  # learn the repo's own classes from its conventional-prefixed commits
    prior: bool = True  # the shipped cross-repo prior (prior.json.gz); false: the repo model alone, else rules
    classifier_min_commits: int = Field(default=50, ge=2)
    # ... and only where prefixes are the repo's practice: this share or more of the commits read.
    # Where a few contributors prefix some kinds of change (jq: 5%, cobra: 11%), those commits
    # are a class-biased sample and the repo model does worse than the prior (bench/git_classify.py
    # --sparse); a repo that adopted the convention (typeorm, fastify: 40% of 5,000) keeps it.
    classifier_min_share: float = Field(default=0.25, ge=0, le=1)
    classifier_commits: int = Field(default=5000, ge=10)  # newest commits read to train it
    # A bugfix the repo model or the prior gives less than this share of the probability, and
    # whose subject does not say "fix", "bug", "crash" ..., is framed as the change it is
    # (editing, no review pairs), not as "find the bug": of the prior's fixes among jq's and
    # cobra's hand-labelled commits 17 of 23 and 10 of 14 are fixes, of those it frames as
    # fixes 15 of 17 and 9 of 10 (bench/git_hand.py).
    fix_confidence: float = Field(default=0.7, ge=0, le=1)
    llm: EndpointConfig | None = None  # when set, classify commits without a prefix with it
    jobs: int = Field(default=0, ge=0)  # worker processes for a large range; 0: one per core (<= 4)
    parallel_min_commits: int = Field(default=400, ge=1)

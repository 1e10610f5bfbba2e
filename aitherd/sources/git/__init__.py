"""Git mining, in parts: `parse` (the `git log -p` stream), `files` (what a file is: language,
documentation, generated, test), `classify` (what a commit is), `examples` (commit -> examples),
`review` (review pairs through `git blame`), `run` (plan, marks, worker processes).

`aitherd.sources.gitmine.mine` is the source the harvest calls. Every module here but `config`
uses the standard library only: worker processes import them cheaply.
"""

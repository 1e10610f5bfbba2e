"""Serving: a supervised vLLM child, adapters deployed behind stable aliases, the GPU lent to training.

Modules, each light enough for the daemon process (no torch, no vllm): `config` ([serve]
settings), `launch` (command line, environment, log file, process group), `upstream` (a small
asyncio HTTP/1.1 client), `process` (the vLLM child: start, health, restart with backoff, stop of
its whole process group), `store` and `adapters` (load, verify, flip an alias, unload; the
Adapter rows), `relay` (the OpenAI-compatible endpoint users call by alias or `auto`, a process of its own:
`relay_app` answers each request, `exchange` relays it, on `h1`: raw asyncio and httptools) and
`relay_host` (that process from the daemon's side), `router`,
`effort` and `classifier` (which alias answers `auto`), `gpu` (the hand-off
to training), `service` (what the daemon holds), `routes`, `ctl` and `worker` (the control API,
aitherctl and job-worker faces).

Nothing is imported here, so `aitherd.config` can import `aitherd.serve.config` cheaply.
"""

"""Serving: a supervised vLLM child, adapters deployed behind stable aliases, the GPU lent to training.

Modules, each light enough for the daemon process (no torch, no vllm):
`config` ([serve] settings), `upstream` (a small asyncio HTTP/1.1 client), `process` (the vLLM
child: start, health, restart with backoff, stop of its whole process group), `adapters` (load,
verify, flip an alias, unload; the store's Adapter rows), `proxy` (the OpenAI-compatible endpoint
users call by alias), `gpu` (the hand-off to training), `service` (what the daemon holds),
`routes` and `ctl` (the control API and aitherctl faces).

Nothing is imported here, so `aitherd.config` can import `aitherd.serve.config` cheaply.
"""

"""Serving: a supervised vLLM child, adapters deployed behind stable aliases, the GPU lent to training.

Modules, each light enough for the daemon process (no torch, no vllm): `config` ([serve]
settings), `launch` (command line, environment, log file, process group), `upstream` (a small
asyncio HTTP/1.1 client), `process` (the vLLM child: start, health, restart with backoff, stop of
its whole process group), `store` and `adapters` (load, verify, flip an alias, unload; the
Adapter rows), `proxy` (the OpenAI-compatible endpoint users call by alias), `gpu` (the hand-off
to training), `service` (what the daemon holds), `routes`, `ctl` and `worker` (the control API,
aitherctl and job-worker faces).

Nothing is imported here, so `aitherd.config` can import `aitherd.serve.config` cheaply.
"""

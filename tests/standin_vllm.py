"""A stand-in for `python -m vllm.entrypoints.openai.api_server`, for tests without a GPU.

Started by the supervisor exactly as vLLM would be (same flags, same environment), it speaks
the parts of vLLM's API aitherd uses, with vLLM's semantics as read in vLLM's own sources:
- /health 200; the port opens only once "the engine" is ready.
- /v1/models: the base card (`root` = the model) and one card per adapter (`parent` = base).
- /v1/load_lora_adapter, /v1/unload_lora_adapter exist only with
  VLLM_ALLOW_RUNTIME_LORA_UPDATING in ("1", "true") (else 404 {"detail": "Not Found"}); loading
  a loaded name is 400 "has already been loaded"; a path without an adapter is 404; a rank above
  --max-lora-rank fails (500); unloading an unknown name is 404.
- /sleep?level=N, /wake_up, /is_sleeping exist only with VLLM_SERVER_DEV_MODE=1 (read with
  int(), so "True" makes the server fail at start, as vLLM does); sleeping needs
  --enable-sleep-mode. Level 2 drops the adapters' weights; they come back lazily on use.
- /v1/chat/completions and /v1/completions, streaming (SSE, `data: [DONE]`) and not; a `model`
  that is neither the base nor a loaded adapter is 404 NotFoundError. Output is deterministic:
  an adapter whose target modules do not match the served model answers like the base.
Test flags (prefix --standin-): crash-after S, crash-once FILE (crash only if FILE is absent,
then create it), hang (never open the port), startup-delay S, child (leave a child process in
the group), child-ignore-term, ignore-term, token-delay S, target-modules a,b, forget-on-wake
(after a wake adapters are not applied until reloaded), log FILE (one JSON line per request),
unhealthy-after S (/health answers 503 after S seconds, as when vLLM's engine died). With a log,
each stream also writes `{"event": "stream_end", "finished": bool}` when it ends or is cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

ALL_PROJECTIONS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="standin_vllm")
    p.add_argument("--model", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name")
    p.add_argument("--enable-lora", action="store_true")
    p.add_argument("--max-lora-rank", type=int, default=16, choices=[1, 8, 16, 32, 64, 128, 256, 320, 512])
    p.add_argument("--max-loras", type=int, default=1)
    p.add_argument("--max-cpu-loras", type=int)
    p.add_argument("--enable-sleep-mode", action="store_true")
    p.add_argument("--standin-crash-after", type=float)
    p.add_argument("--standin-crash-once")
    p.add_argument("--standin-hang", action="store_true")
    p.add_argument("--standin-startup-delay", type=float, default=0.0)
    p.add_argument("--standin-child", action="store_true")
    p.add_argument("--standin-child-ignore-term", action="store_true")
    p.add_argument("--standin-ignore-term", action="store_true")
    p.add_argument("--standin-token-delay", type=float, default=0.0)
    p.add_argument("--standin-target-modules", default=ALL_PROJECTIONS)
    p.add_argument("--standin-forget-on-wake", action="store_true")
    p.add_argument("--standin-log")
    p.add_argument("--standin-unhealthy-after", type=float)
    args = p.parse_args(argv)
    if args.max_cpu_loras is not None and args.max_cpu_loras < args.max_loras:
        p.error("max_cpu_loras must be >= max_loras")
    return args


def error(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": status}},
                        status_code=status)


class Engine:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = args.served_model_name or args.model
        self.loras: dict[str, dict[str, Any]] = {}
        self.sleeping = 0  # 0 awake, else the level
        self.modules = set(args.standin_target_modules.split(","))

    def answer(self, model: str, prompt: str, max_tokens: int) -> str:
        lora = self.loras.get(model)
        tag = "base"
        if lora is not None and lora["applied"] and set(lora["modules"]) & self.modules:
            tag = lora["tag"]
        digest = hashlib.sha256(f"{tag}|{prompt}".encode()).hexdigest()
        words = [f"{tag}:"] + [digest[i:i + 6] for i in range(0, 60, 6)]
        return " ".join(words[:max(1, max_tokens)])


def build(args: argparse.Namespace) -> Starlette:
    engine = Engine(args)
    lora_env = os.environ.get("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "0").strip().lower() in ("1", "true")
    dev_mode = bool(int(os.getenv("VLLM_SERVER_DEV_MODE", "0")))

    def note(request: Request, **extra: Any) -> None:
        if args.standin_log:
            with open(args.standin_log, "a") as fh:
                fh.write(json.dumps({"path": request.url.path, "t": time.time(), **extra}) + "\n")

    started = time.monotonic()

    async def health(request: Request) -> Response:
        dead = args.standin_unhealthy_after is not None and time.monotonic() - started > args.standin_unhealthy_after
        return Response(status_code=503 if dead else 200)  # 503: vLLM's EngineDeadError

    async def models(request: Request) -> Response:
        cards = [{"id": engine.base, "object": "model", "created": int(time.time()), "owned_by": "vllm",
                  "root": args.model, "parent": None, "max_model_len": 4096, "permission": []}]
        cards += [{"id": name, "object": "model", "created": int(time.time()), "owned_by": "vllm",
                   "root": lora["path"], "parent": engine.base, "max_model_len": None, "permission": []}
                  for name, lora in engine.loras.items()]
        return JSONResponse({"object": "list", "data": cards})

    async def load(request: Request) -> Response:
        body = await request.json()
        name, path = body.get("lora_name"), body.get("lora_path")
        note(request, name=name)
        if not name or not path:
            return error(400, "Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput")
        if not body.get("load_inplace") and name in engine.loras:
            return error(400, f"The lora adapter '{name}' has already been loaded. If you want to load "
                              "the adapter in place, set 'load_inplace' to True.", "InvalidUserInput")
        cfg_file = Path(path) / "adapter_config.json"
        if not cfg_file.is_file():
            return error(404, f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError")
        if not args.enable_lora:
            return error(500, "LoRA is not enabled. Use --enable-lora to enable LoRA.", "InternalServerError")
        cfg = json.loads(cfg_file.read_text())
        if int(cfg.get("r", 8)) > args.max_lora_rank:
            return error(500, f"LoRA rank {cfg.get('r')} is greater than max_lora_rank "
                              f"{args.max_lora_rank}.", "InternalServerError")
        engine.loras[name] = {"path": path, "modules": cfg.get("target_modules") or [], "applied": True,
                              "tag": cfg.get("standin_tag") or f"{Path(path).parent.name}/{Path(path).name}"}
        return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

    async def unload(request: Request) -> Response:
        body = await request.json()
        name = body.get("lora_name")
        note(request, name=name)
        if not name:
            return error(400, "'lora_name' needs to be provided to unload a LoRA adapter.", "InvalidUserInput")
        if name not in engine.loras:
            return error(404, f"The lora adapter '{name}' cannot be found.", "NotFoundError")
        del engine.loras[name]
        return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

    async def sleep(request: Request) -> Response:
        level = int(request.query_params.get("level", "1"))
        note(request, level=level)
        if not args.enable_sleep_mode:
            return error(500, "Sleep mode is not enabled in the model config", "InternalServerError")
        await asyncio.sleep(0.05)
        engine.sleeping = level
        return Response(status_code=200)

    async def wake_up(request: Request) -> Response:
        note(request)
        await asyncio.sleep(0.05)
        if args.standin_forget_on_wake:
            for lora in engine.loras.values():
                lora["applied"] = False
        engine.sleeping = 0
        return Response(status_code=200)

    async def is_sleeping(request: Request) -> Response:
        return JSONResponse({"is_sleeping": bool(engine.sleeping)})

    async def generate(request: Request) -> Response:
        body = await request.json()
        chat = request.url.path.endswith("chat/completions")
        model = body.get("model") or engine.base
        note(request, model=model, stream=bool(body.get("stream")))
        if model != engine.base and model not in engine.loras:
            return error(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
        if engine.sleeping:
            return error(500, "The engine is sleeping.", "InternalServerError")
        if chat:
            prompt = next((m.get("content", "") for m in reversed(body.get("messages") or [])
                           if m.get("role") == "user"), "")
        else:
            prompt = str(body.get("prompt", ""))
        text = engine.answer(model, prompt, int(body.get("max_tokens") or 16))
        rid, created = f"cmpl-{hashlib.md5(os.urandom(8)).hexdigest()}", int(time.time())
        if not body.get("stream"):
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                      if chat else {"index": 0, "text": text, "finish_reason": "stop"})
            return JSONResponse({"id": rid, "object": "chat.completion" if chat else "text_completion",
                                 "created": created, "model": model, "choices": [choice],
                                 "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens":
                                           len(text.split()), "total_tokens": 0}})

        async def events() -> Any:
            finished = False
            try:
                async for event in _events():
                    yield event
                finished = True
            finally:  # a client that leaves cancels the stream: the log says it was not finished
                note(request, event="stream_end", model=model, finished=finished)

        async def _events() -> Any:
            kind = "chat.completion.chunk" if chat else "text_completion"
            words = text.split(" ")
            if chat:
                first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                yield f"data: {json.dumps({'id': rid, 'object': kind, 'created': created, 'model': model, 'choices': [first]})}\n\n"
            for i, word in enumerate(words):
                if args.standin_token_delay:
                    await asyncio.sleep(args.standin_token_delay)
                piece = word + (" " if i < len(words) - 1 else "")
                choice = ({"index": 0, "delta": {"content": piece}, "finish_reason": None} if chat
                          else {"index": 0, "text": piece, "finish_reason": None})
                yield f"data: {json.dumps({'id': rid, 'object': kind, 'created': created, 'model': model, 'choices': [choice]})}\n\n"
            last = ({"index": 0, "delta": {}, "finish_reason": "stop"} if chat
                    else {"index": 0, "text": "", "finish_reason": "stop"})
            yield f"data: {json.dumps({'id': rid, 'object': kind, 'created': created, 'model': model, 'choices': [last]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    routes = [Route("/health", health), Route("/v1/models", models),
              Route("/v1/chat/completions", generate, methods=["POST"]),
              Route("/v1/completions", generate, methods=["POST"])]
    if lora_env:
        routes += [Route("/v1/load_lora_adapter", load, methods=["POST"]),
                   Route("/v1/unload_lora_adapter", unload, methods=["POST"])]
    if dev_mode:
        routes += [Route("/sleep", sleep, methods=["POST"]), Route("/wake_up", wake_up, methods=["POST"]),
                   Route("/is_sleeping", is_sleeping)]

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    return Starlette(routes=routes, exception_handlers={404: not_found})


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, ignore_term: bool) -> None:
        super().__init__(config)
        self.ignore_term = ignore_term

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        def on_term(*_: Any) -> None:
            if not self.ignore_term:
                self.should_exit = True

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        yield


def main() -> None:
    args = parse_args(sys.argv[1:])
    print(f"stand-in vLLM pid {os.getpid()} model {args.model}", flush=True)
    if args.standin_child:
        code = ("import signal, time\n"
                + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if args.standin_child_ignore_term else "")
                + "print('ready', flush=True)\n"
                + "time.sleep(3600)\n")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        assert child.stdout is not None
        child.stdout.readline()  # its SIGTERM disposition is set before the server answers (no race in stop tests)
        print(f"stand-in child pid {child.pid}", flush=True)
    if args.standin_hang:
        while True:
            time.sleep(3600)
    time.sleep(args.standin_startup_delay)
    app = build(args)  # reads the environment as vLLM does (a bad VLLM_SERVER_DEV_MODE fails here)
    crash = args.standin_crash_after
    if args.standin_crash_once:
        marker = Path(args.standin_crash_once)
        crash = None if marker.exists() else (crash or 0.2)
        marker.touch()
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                            lifespan="off")
    server = Server(config, args.standin_ignore_term)

    async def run() -> None:
        if crash is not None:
            asyncio.get_running_loop().call_later(crash, lambda: (print("stand-in crashing", flush=True),
                                                                  os._exit(3)))
        await server.serve()

    asyncio.run(run())


if __name__ == "__main__":
    main()

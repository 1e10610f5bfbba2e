"""A fast stand-in for vLLM's OpenAI server, for the router bench: the same answers as
standin_vllm.py on raw asyncio + httptools (aitherd.serve.h1, uvloop where installed), so that in
"direct vs through the router" the stand-in is not the bottleneck.

Started by the daemon's supervisor with vLLM's flags (unknown ones are ignored). Speaks /health,
/v1/models, /v1/load_lora_adapter, /v1/unload_lora_adapter, /v1/chat/completions and
/v1/completions (streaming and not; `--standin-token-delay S` between words, from timer
callbacks: no task per stream). A stream whose client leaves stops at once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.serve.h1 import Request, ServerConn

JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = args.served_model_name or args.model
        self.loras: dict[str, str] = {}  # name -> tag
        self.delay = args.standin_token_delay

    def answer(self, model: str, prompt: str, max_tokens: int) -> list[str]:
        tag = self.loras.get(model, "base")
        digest = hashlib.sha256(f"{tag}|{prompt}".encode()).hexdigest()
        words = [f"{tag}:"] + [digest[i:i + 6] for i in range(0, 60, 6)]
        return words[:max(1, max_tokens)]

    def __call__(self, conn: ServerConn, req: Request) -> None:
        p = req.path
        if p == "/health":
            return conn.respond(200, [], b"")
        if p == "/v1/models":
            cards = [{"id": self.base, "object": "model", "root": self.args.model, "parent": None}]
            cards += [{"id": n, "object": "model", "root": n, "parent": self.base} for n in self.loras]
            return conn.respond(200, JSON, json.dumps({"object": "list", "data": cards}).encode())
        body = json.loads(req.body or b"{}")
        if p == "/v1/load_lora_adapter":
            path = Path(body["lora_path"])
            self.loras[body["lora_name"]] = f"{path.parent.name}/{path.name}"
            return conn.respond(200, [(b"content-type", b"text/plain")], b"Success")
        if p == "/v1/unload_lora_adapter":
            self.loras.pop(body.get("lora_name"), None)
            return conn.respond(200, [(b"content-type", b"text/plain")], b"Success")
        if p not in ("/v1/chat/completions", "/v1/completions"):
            return conn.respond(404, JSON, b'{"detail":"Not Found"}')
        chat = p.endswith("chat/completions")
        model = body.get("model") or self.base
        if model != self.base and model not in self.loras:
            err = {"error": {"message": f"The model `{model}` does not exist.", "type": "NotFoundError",
                             "param": "model", "code": 404}}
            return conn.respond(404, JSON, json.dumps(err).encode())
        if chat:
            prompt = next((m.get("content", "") for m in reversed(body.get("messages") or [])
                           if m.get("role") == "user"), "")
        else:
            prompt = str(body.get("prompt", ""))
        words = self.answer(model, prompt, int(body.get("max_tokens") or 16))
        rid, created = f"cmpl-{os.urandom(8).hex()}", int(time.time())
        kind = "chat.completion.chunk" if chat else "text_completion"
        if not body.get("stream"):
            text = " ".join(words)
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                      if chat else {"index": 0, "text": text, "finish_reason": "stop"})
            out = {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
                   "model": model, "choices": [choice],
                   "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(words)}}
            return conn.respond(200, JSON, json.dumps(out).encode())

        def event(choice: dict[str, Any]) -> bytes:
            return b"data: " + json.dumps({"id": rid, "object": kind, "created": created, "model": model,
                                           "choices": [choice]}).encode() + b"\n\n"

        events = [event({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None})] if chat else []
        for i, w in enumerate(words):
            piece = w + (" " if i < len(words) - 1 else "")
            events.append(event({"index": 0, "delta": {"content": piece}, "finish_reason": None} if chat
                                else {"index": 0, "text": piece, "finish_reason": None}))
        events.append(event({"index": 0, "delta": {}, "finish_reason": "stop"} if chat
                            else {"index": 0, "text": "", "finish_reason": "stop"}))
        events.append(b"data: [DONE]\n\n")
        Stream(conn, events, self.delay, chat).begin()
        return None


class Stream:
    """Sends the first event (the role, for chat) at once and each word `delay` apart."""

    def __init__(self, conn: ServerConn, events: list[bytes], delay: float, chat: bool) -> None:
        self.conn, self.events, self.delay, self.i = conn, events, delay, 0
        self.timer: asyncio.TimerHandle | None = None
        self.first = 1 if chat else 0

    def begin(self) -> None:
        self.conn.on_lost = self.gone
        self.conn.start_stream(200, SSE)
        if self.first:
            self.conn.chunk(self.events[0])
            self.i = 1
        self.step()

    def step(self) -> None:
        if self.delay and self.i < len(self.events) - 2:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self.send_word)
        else:
            self.conn.end_stream(b"".join(self.events[self.i:]))

    def send_word(self) -> None:
        self.conn.chunk(self.events[self.i])
        self.i += 1
        self.step()

    def gone(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


def main() -> None:
    p = argparse.ArgumentParser(prog="standin_fast")
    p.add_argument("--model", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name")
    p.add_argument("--standin-token-delay", type=float, default=0.0)
    args, _unknown = p.parse_known_args(sys.argv[1:])
    print(f"fast stand-in pid {os.getpid()} model {args.model}", flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        app = App(args)
        server = await loop.create_server(lambda: ServerConn(app), args.host, args.port, backlog=2048)
        await server.serve_forever()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()

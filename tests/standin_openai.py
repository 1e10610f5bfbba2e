"""A stand-in OpenAI-compatible server for tests: `python standin_openai.py SCRIPT.json`.

Serves POST /v1/chat/completions and GET /v1/models on 127.0.0.1 (port printed on stdout).
SCRIPT.json: {"key": expected bearer key or null, "queue": [responses served first, in order],
"rules": [{"match": substring of the last user message, ...response}], "default": response}.
A response is {"status": 200, "content": str, "reasoning": str|null, "retry_after": str|null,
"usage": {...}}, or misbehaves: "body" (any JSON served as the whole reply), "raw" (bytes served
as is, not JSON), "error_body" (the body of an error status). A wrong key gets a 401 whose body
echoes the key presented, as some providers do. Every request is appended to SCRIPT.json.log
(without the key).

Script mode for sampling loops (STaR): a rule's "match" may be a list (every substring must be in
the last user message) and "unless" a substring or list that must not be; "cycle": [responses]
serves them in turn, one per request the rule answers (k samples of one prompt differ); "delay":
seconds to wait before answering.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SCRIPT = Path(sys.argv[1])
LOCK = threading.Lock()
TURNS: dict[int, int] = {}  # rule index -> requests it answered (for "cycle")


def _all(value: object) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]


def _rule(script: dict, text: str) -> dict:
    for i, rule in enumerate(script.get("rules", [])):
        if all(m in text for m in _all(rule["match"])) and not any(u in text for u in _all(rule.get("unless"))):
            if "cycle" in rule:
                turn = TURNS.get(i, 0)
                TURNS[i] = turn + 1
                return {**rule, **rule["cycle"][turn % len(rule["cycle"])]}
            return rule
    return script.get("default", {"content": f"echo: {text}"})


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: object, headers: dict | None = None) -> None:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        script = json.loads(SCRIPT.read_text())
        self._send(200, {"object": "list", "data": [{"id": script.get("model", "stand-in"),
                                                     "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        with LOCK:
            script = json.loads(SCRIPT.read_text())
            auth = self.headers.get("Authorization", "")
            key_ok = script.get("key") is None or auth == f"Bearer {script['key']}"
            last_user = next((m["content"] for m in reversed(body["messages"])
                              if m["role"] == "user"), "")
            with open(f"{SCRIPT}.log", "a") as log:
                log.write(json.dumps({"path": self.path, "key_ok": key_ok, "model": body.get("model"),
                                      "messages": body["messages"], "seed": body.get("seed"),
                                      "temperature": body.get("temperature")}) + "\n")
            if not key_ok:
                presented = auth.removeprefix("Bearer ")
                self._send(401, {"error": {"message": f"Incorrect API key provided: {presented}. You can "
                                                      "find your API key at https://example.invalid/keys."}})
                return
            if script.get("queue"):
                resp = script["queue"].pop(0)
                SCRIPT.write_text(json.dumps(script))
            else:
                resp = _rule(script, last_user)
        if resp.get("delay"):
            time.sleep(float(resp["delay"]))
        status = resp.get("status", 200)
        if "raw" in resp or "body" in resp:
            self._send(status, resp["raw"] if "raw" in resp else resp["body"])
            return
        if status != 200 and "error_body" in resp:
            self._send(status, resp["error_body"])
            return
        if status != 200:
            headers = {"Retry-After": resp["retry_after"]} if resp.get("retry_after") else None
            self._send(status, {"error": {"message": f"stand-in error {status}"}}, headers)
            return
        message = {"role": "assistant", "content": resp.get("content", "")}
        if resp.get("reasoning") is not None:
            message["reasoning"] = resp["reasoning"]
        usage = resp.get("usage") or {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
        self._send(200, {"id": "cmpl-standin", "object": "chat.completion", "model": body.get("model"),
                         "choices": [{"index": 0, "message": message,
                                      "finish_reason": resp.get("finish_reason", "stop")}],
                         "usage": usage})


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

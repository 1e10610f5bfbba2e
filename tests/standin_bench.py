"""A stand-in OpenAI-compatible server that answers benchmark prompts, scripted per model name.

`python standin_bench.py SCRIPT.json` prints its port, then serves on 127.0.0.1:
  POST /v1/chat/completions  (the prompt is looked up among the suites' prompts)
  POST /v1/load_lora_adapter, /v1/unload_lora_adapter  (vLLM's runtime LoRA endpoints)
  GET  /v1/models
SCRIPT.json (re-read when it changes): {"models": {NAME: BEHAVIOUR}, "heldout": {prompt: answer},
"reasoning_field": false}. A model not in "models" answers 404 as vLLM does. BEHAVIOUR:
{"wrong": [item ids], "wrong_share": 0.0, "seed": 0, "needs_load": false}: the items listed, and a
seeded share of the rest, get a wrong answer; the others the reference (canonical code, or the gold
number after a think block). Every request is logged to SCRIPT.json.log as {"model", "item"}.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.evaluate.suites import Gsm8k, HumanEval, Mbpp

SCRIPT = Path(sys.argv[1])
LOCK = threading.Lock()
STATE: dict = {"mtime": None, "script": {}, "loaded": set()}
ITEMS: dict[str, tuple[str, str, str]] = {}  # user prompt -> (item id, right answer, wrong answer)


def _build() -> None:
    for suite in (HumanEval(), Mbpp(), Mbpp(sanitized=True)):
        for item in suite.load():
            right = f"<think>\nI write the function.\n</think>\n\n{suite.canonical(item)}"
            wrong = "<think>\nA quick guess.\n</think>\n\n```python\ndef nothing():\n    return None\n```"
            ITEMS[item.messages[-1]["content"]] = (item.id, right, wrong)
    for item in Gsm8k().load():
        gold = item.data["gold"]
        reasoning = item.data["solution"].rsplit("####", 1)[0].strip()
        right = f"<think>\n{reasoning}\n</think>\n\nThe answer is $\\boxed{{{gold}}}$."
        wrong = f"<think>\n{reasoning}\nHmm.\n</think>\n\nThe answer is $\\boxed{{{int(float(gold.replace(',', ''))) + 1}}}$."
        ITEMS[item.messages[-1]["content"]] = (item.id, right, wrong)


def _script() -> dict:
    mtime = SCRIPT.stat().st_mtime_ns
    if STATE["mtime"] != mtime:
        STATE["script"], STATE["mtime"] = json.loads(SCRIPT.read_text()), mtime
    return STATE["script"]


def _wrong(behaviour: dict, item_id: str) -> bool:
    if item_id in behaviour.get("wrong", []):
        return True
    share = behaviour.get("wrong_share", 0.0)
    return share > 0 and random.Random(f"{behaviour.get('seed', 0)}:{item_id}").random() < share


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        with LOCK:
            names = list(_script().get("models", {}))
        self._send(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with LOCK:
            script = _script()
            if self.path.endswith("_lora_adapter"):
                with open(f"{SCRIPT}.log", "a") as log:
                    log.write(json.dumps({"admin": self.path.rsplit("/", 1)[-1], **body}) + "\n")
            if self.path.endswith("/load_lora_adapter"):
                STATE["loaded"].add(body["lora_name"])
                self._send(200, {"message": f"Success: LoRA adapter '{body['lora_name']}' added successfully."})
                return
            if self.path.endswith("/unload_lora_adapter"):
                STATE["loaded"].discard(body["lora_name"])
                self._send(200, {"message": "unloaded"})
                return
            model = body.get("model")
            behaviour = script.get("models", {}).get(model)
            if behaviour is None or (behaviour.get("needs_load") and model not in STATE["loaded"]):
                self._send(404, {"error": {"message": f"The model `{model}` does not exist.", "code": 404}})
                return
            prompt = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
            known = ITEMS.get(prompt)
            if known is not None:
                item_id, right, wrong = known
                text = wrong if _wrong(behaviour, item_id) else right
            else:
                item_id = "heldout"
                answers = script.get("heldout", {})
                text = answers.get(prompt, "<think>\nNo idea.\n</think>\n\nI do not know.")
                if _wrong(behaviour, prompt[:40]):
                    text = "<think>\nNo idea.\n</think>\n\nI do not know."
            with open(f"{SCRIPT}.log", "a") as log:
                log.write(json.dumps({"model": model, "item": item_id,
                                      "max_tokens": body.get("max_tokens"), "temperature": body.get("temperature"),
                                      "seed": body.get("seed")}) + "\n")
        message = {"role": "assistant", "content": text}
        if script.get("reasoning_field") and "</think>" in text:
            thinking, answer = text.split("</think>", 1)
            message = {"role": "assistant", "content": answer.strip(),
                       "reasoning_content": thinking.replace("<think>", "").strip()}
        self._send(200, {"id": "cmpl-standin", "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90}})


def main() -> None:
    _build()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

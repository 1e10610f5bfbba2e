"""Generation: one interface, two backends. `EndpointGenerator` queries an OpenAI-compatible server
(the supervised vLLM) with many requests in flight, through the `openai` SDK (retries with
backoff, honouring Retry-After); `LocalGenerator` runs transformers (+ PEFT) in the worker, for
machines without a server and for the tests. Both decode greedily (temperature 0) unless told.

Models are named: the base by what the server calls it, an adapter by its hidden evaluation name
`eval:SPECIALIST@VERSION` (never an alias users call). The endpoint loads and unloads adapters
through vLLM's runtime LoRA endpoints when asked. Heavy imports (openai, torch, transformers,
peft) happen inside the methods that need them.

Both refuse an adapter whose rank is above the model server's --max-lora-rank (from `[lora]`):
a candidate judged here must be one the supervised vLLM can load once it is deployed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aitherd.errors import ServiceError
from aitherd.lora import LoraSection, unservable

Conversation = list[dict[str, str]]


class GenerationError(ServiceError):
    """The backend cannot generate at all (no server, no model); the message says why."""


@dataclass(frozen=True)
class Decoding:
    max_tokens: int
    temperature: float = 0.0  # greedy
    top_p: float = 1.0
    seed: int = 0

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    text: str = ""  # the answer as returned (content)
    reasoning: str | None = None  # when the server returns the thinking apart from the content
    finish_reason: str | None = None
    completion_tokens: int | None = None
    seconds: float = 0.0
    error: str | None = None

    def full_text(self) -> str:
        """What the extractors read: the thinking (re-wrapped) and the answer."""
        return f"<think>\n{self.reasoning}\n</think>\n\n{self.text}" if self.reasoning else self.text


class Generator(Protocol):
    description: str

    def generate(self, model: str, conversations: Sequence[Conversation], decoding: Decoding, *,
                 on_done: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 seeds: Sequence[int] | None = None) -> list[Generation]: ...

    def prepare(self, model: str, adapter_path: str | None) -> None: ...

    def release(self, model: str) -> None: ...

    def close(self) -> None: ...


def check_servable(adapter_path: str, max_rank: int | None) -> None:
    """GenerationError when the model server could not load the adapter (rank above `max_rank`)."""
    problem = unservable(adapter_path, max_rank) if max_rank else None
    if problem:
        raise GenerationError(problem)


def adapter_model_name(specialist: str, version: str) -> str:
    """The hidden name an adapter is evaluated under."""
    return f"eval:{specialist}@{version}"


class EndpointGenerator:
    def __init__(self, base_url: str, *, api_key: str | None = None, concurrency: int = 32,
                 timeout_s: float = 900, max_retries: int = 5, load_adapters: bool = True,
                 max_rank: int | None = None) -> None:
        from openai import OpenAI

        self.max_rank = max_rank  # [lora]: the server's --max-lora-rank
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self._key = api_key
        self.client = OpenAI(base_url=self.base_url, api_key=api_key or "not-needed",
                             timeout=timeout_s, max_retries=max_retries)
        self.concurrency = concurrency
        self.load_adapters = load_adapters
        self.description = f"endpoint {self.base_url} ({concurrency} requests in flight)"
        self._loaded: set[str] = set()

    def _admin(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        request = urllib.request.Request(f"{self.base_url}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {self._key}"} if self._key else {})},
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=300) as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as err:
            raise GenerationError(f"cannot reach {self.base_url}{path}: {getattr(err, 'reason', err)}") from None

    def prepare(self, model: str, adapter_path: str | None) -> None:
        """Load an adapter under its hidden name (vLLM: POST /v1/load_lora_adapter)."""
        if adapter_path is None or not self.load_adapters or model in self._loaded:
            return
        check_servable(adapter_path, self.max_rank)
        status, text = self._admin("/load_lora_adapter", {"lora_name": model, "lora_path": adapter_path})
        if status == 200 or (status == 400 and "already" in text):
            self._loaded.add(model)
            return
        hint = (" (vLLM needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora)"
                if status in (404, 405) else "")
        raise GenerationError(f"the endpoint refused to load {model} from {adapter_path}: "
                              f"HTTP {status} {text[:300]}{hint}")

    def release(self, model: str) -> None:
        if model in self._loaded:
            self._loaded.discard(model)
            self._admin("/unload_lora_adapter", {"lora_name": model})

    def _one(self, model: str, conversation: Conversation, decoding: Decoding) -> Generation:
        import openai

        t0 = time.monotonic()
        try:
            resp = self.client.chat.completions.create(
                model=model, messages=conversation, max_tokens=decoding.max_tokens,  # type: ignore[arg-type]
                temperature=decoding.temperature, top_p=decoding.top_p, seed=decoding.seed)
        except openai.APIError as err:
            status = getattr(err, "status_code", None)
            return Generation(error=f"{type(err).__name__}{f' {status}' if status else ''}: {str(err)[:300]}",
                              seconds=time.monotonic() - t0)
        choice = resp.choices[0]
        message = choice.message
        extra = getattr(message, "model_extra", None) or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        usage = resp.usage
        return Generation(text=message.content or "", reasoning=reasoning,
                          finish_reason=choice.finish_reason,
                          completion_tokens=usage.completion_tokens if usage else None,
                          seconds=time.monotonic() - t0)

    def generate(self, model: str, conversations: Sequence[Conversation], decoding: Decoding, *,
                 on_done: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 seeds: Sequence[int] | None = None) -> list[Generation]:
        """`seeds`: one per conversation (k samples of one prompt need k seeds: a server that is
        given a seed samples the same text for the same prompt); default decoding.seed for all."""
        out: list[Generation] = [Generation(error="not run: stop requested")] * len(conversations)
        done = 0
        lock = threading.Lock()

        def one(i: int) -> None:
            nonlocal done
            if should_stop is not None and should_stop():
                return
            out[i] = self._one(model, conversations[i],
                               decoding if seeds is None else dataclasses.replace(decoding, seed=seeds[i]))
            with lock:
                done += 1
                count = done
            if on_done is not None:
                on_done(count)

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="generate") as pool:
            list(pool.map(one, range(len(conversations))))
        return out

    def close(self) -> None:
        for model in list(self._loaded):
            with contextlib.suppress(GenerationError):
                self.release(model)
        self.client.close()


class LocalGenerator:
    """transformers in this process: the base model, with PEFT adapters switched by name."""

    def __init__(self, base_model: str, *, batch_size: int = 8, device: str | None = None,
                 max_rank: int | None = None) -> None:
        self.base_model = base_model
        self.max_rank = max_rank  # [lora]: what the server could load
        self.batch_size = batch_size
        self.device = device
        self.description = f"local transformers, {base_model}"
        self._model: Any = None
        self._tokenizer: Any = None
        self._adapters: dict[str, str] = {}

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise GenerationError("the local generator needs torch and transformers "
                                  "(pip install 'aitherd[train]'), or set [evaluate.endpoint] base_url") from err
        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.base_model)
            model = AutoModelForCausalLM.from_pretrained(self.base_model, dtype=dtype)
        except (OSError, ValueError) as err:
            raise GenerationError(f"cannot load the base model {self.base_model}: {err}") from None
        self._tokenizer.padding_side = "left"
        if self._tokenizer.pad_token is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token
        self._model = model.to(self.device).eval()  # type: ignore[arg-type]

    def prepare(self, model: str, adapter_path: str | None) -> None:
        if adapter_path is not None and model not in self._adapters:
            check_servable(adapter_path, self.max_rank)
        self._load()
        if adapter_path is None or model in self._adapters:
            return
        from peft import PeftModel

        if not hasattr(self._model, "peft_config"):
            self._model = PeftModel.from_pretrained(self._model, adapter_path,  # type: ignore[arg-type]
                                                   adapter_name=model).eval()
        else:
            self._model.load_adapter(adapter_path, adapter_name=model)
        self._adapters[model] = adapter_path

    def release(self, model: str) -> None:
        pass  # adapters stay loaded for the rest of the run (they are small)

    def _context(self, model: str) -> Any:
        if model in self._adapters:
            self._model.set_adapter(model)
            return contextlib.nullcontext()
        if hasattr(self._model, "disable_adapter"):
            return self._model.disable_adapter()  # the base model: adapters off
        return contextlib.nullcontext()

    def generate(self, model: str, conversations: Sequence[Conversation], decoding: Decoding, *,
                 on_done: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 seeds: Sequence[int] | None = None) -> list[Generation]:
        """`seeds` is accepted for the interface: rows of one sampled batch already differ."""
        import torch

        self._load()
        tok = self._tokenizer
        out: list[Generation] = []
        torch.manual_seed(decoding.seed)
        for start in range(0, len(conversations), self.batch_size):
            batch = conversations[start:start + self.batch_size]
            if should_stop is not None and should_stop():
                out += [Generation(error="not run: stop requested")] * len(batch)
                continue
            t0 = time.monotonic()
            prompts = [tok.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in batch]
            enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            sampling = ({"do_sample": True, "temperature": decoding.temperature, "top_p": decoding.top_p}
                        if decoding.temperature > 0 else {"do_sample": False})
            with torch.no_grad(), self._context(model):
                ids = self._model.generate(**enc, max_new_tokens=decoding.max_tokens,
                                           pad_token_id=tok.pad_token_id, **sampling)
            took = (time.monotonic() - t0) / len(batch)
            for row in ids[:, enc["input_ids"].shape[1]:]:
                new = [t for t in row.tolist() if t != tok.pad_token_id]
                finished = bool(new) and new[-1] == tok.eos_token_id
                out.append(Generation(text=tok.decode(new, skip_special_tokens=True),
                                      finish_reason="stop" if finished else "length",
                                      completion_tokens=len(new), seconds=took))
            if on_done is not None:
                on_done(len(out))
        return out

    def eval_loss(self, model: str, conversations: Sequence[Conversation], template: str | None) -> float | None:
        """Mean cross-entropy on the assistant tokens (the training template's generation
        marks, as TRL's assistant_only_loss sees them); None without such a template."""
        import torch

        self._load()
        tok = self._tokenizer
        if template is None:
            return None
        total, count = 0.0, 0
        for conversation in conversations:
            enc = tok.apply_chat_template(conversation, chat_template=template, tokenize=True,
                                          return_dict=True, return_assistant_tokens_mask=True)
            ids = torch.tensor([enc["input_ids"]], device=self.device)
            mask = torch.tensor(enc["assistant_masks"], device=self.device).bool()
            if int(mask[1:].sum()) == 0:
                continue
            with torch.no_grad(), self._context(model):
                logits = self._model(input_ids=ids).logits[0, :-1]
            losses = torch.nn.functional.cross_entropy(logits.float(), ids[0, 1:], reduction="none")
            total += float(losses[mask[1:]].sum())
            count += int(mask[1:].sum())
        return total / count if count else None

    def close(self) -> None:
        self._model = None


def make_generator(cfg: Any, base_model: str, lora: LoraSection | None = None) -> Generator:
    """From [evaluate]: the endpoint when configured (or asked for), else the local generator;
    both load only adapters the model server could ([lora]'s rank; its defaults when None)."""
    max_rank = (lora or LoraSection()).server_rank
    endpoint = cfg.endpoint
    use_endpoint = cfg.generator == "endpoint" or (cfg.generator == "auto" and endpoint.base_url)
    if use_endpoint:
        if not endpoint.base_url:
            raise GenerationError("[evaluate] generator = \"endpoint\" needs [evaluate.endpoint] base_url")
        key = None
        if endpoint.api_key_env:
            key = os.environ.get(endpoint.api_key_env)
            if not key:
                raise GenerationError(f"environment variable {endpoint.api_key_env} is not set "
                                      f"(it should hold the key for {endpoint.base_url})")
        return EndpointGenerator(endpoint.base_url, api_key=key, concurrency=endpoint.concurrency,
                                 timeout_s=endpoint.timeout_s, max_retries=endpoint.max_retries,
                                 load_adapters=endpoint.load_adapters, max_rank=max_rank)
    return LocalGenerator(base_model, batch_size=cfg.local_batch_size, max_rank=max_rank)

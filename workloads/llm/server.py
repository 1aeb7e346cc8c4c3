#!/usr/bin/env python3
"""Reference OpenAI-compatible LLM server for energy sweeps on a GPU machine without internet.

Serves /v1/completions and /v1/chat/completions (streaming SSE with usage, or plain JSON) on
aiohttp, batching concurrent requests in waves over a Llama-architecture model built from
its config with RANDOM WEIGHTS (no weights can be downloaded there): the compute, memory
traffic and energy are those of a real model of that shape; the text is meaningless.
"""
import argparse
import asyncio
import json
import os
import queue
import sys
import threading
import time
import zlib

from aiohttp import web

NOTICE = "random weights: a real architecture and size, not a trained model; outputs are meaningless"

# Llama 3 shapes (Llama-3.2-1B and Llama-3.1-8B configs), and a tiny one for tests on a CPU.
SHAPES = {
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=False),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=1024, tie_word_embeddings=True),
}


class WordTokenizer:
    """Deterministic stand-in for a tokenizer (none can be downloaded): one token per
    whitespace-separated word, id = crc32(word) mod (vocab - 1) + 1; id n decodes to " t<n>"."""

    def __init__(self, vocab):
        self.vocab = vocab

    def encode(self, text):
        ids = [zlib.crc32(w.encode()) % (self.vocab - 1) + 1 for w in text.split()]
        return ids or [1]

    @staticmethod
    def decode(tid):
        return " t%d" % tid


class Request:
    def __init__(self, ids, max_tokens, loop):
        self.ids = ids
        self.max_tokens = max_tokens
        self.loop = loop
        self.out = asyncio.Queue()  # token ids, then None at the end (or an Exception)
        self.cancelled = False


class FakeBackend:
    """No model: a fixed time per step, for testing the HTTP and batching logic anywhere."""

    name = "fake"

    def __init__(self, vocab, step_s):
        self.vocab, self.step_s = vocab, step_s

    def prefill(self, prompts):
        time.sleep(self.step_s)
        return [len(p) for p in prompts], [(sum(p) * 31 + 7) % (self.vocab - 1) + 1 for p in prompts]

    def decode(self, state, tokens):
        time.sleep(self.step_s)
        return state, [(t * 131 + 17) % (self.vocab - 1) + 1 for t in tokens]


class TorchBackend:
    """A transformers LlamaForCausalLM built from config with random weights, decoded by hand
    with a KV cache: left-padded prefill of the wave, then one token per step for all rows."""

    def __init__(self, shape, device, dtype, seed):
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        self.torch = torch
        torch.manual_seed(seed)
        cfg = LlamaConfig(max_position_embeddings=8192, **SHAPES[shape])
        try:
            cfg._attn_implementation = "sdpa"
        except (AttributeError, ValueError):
            pass  # the library's default attention then
        self.dtype = getattr(torch, dtype)
        self.device = torch.device(device)
        old = torch.get_default_dtype()
        try:
            # Built directly in the target dtype on the device: an 8B model in float32 first
            # would need twice the memory for a moment.
            torch.set_default_dtype(self.dtype)
            with self.device:
                self.model = LlamaForCausalLM(cfg)
        except (TypeError, RuntimeError):
            torch.set_default_dtype(old)
            with self.device:
                self.model = LlamaForCausalLM(cfg).to(self.dtype)
        finally:
            torch.set_default_dtype(old)
        self.model.eval()
        self.name = "llama-%s" % shape
        self.params = sum(p.numel() for p in self.model.parameters())

    def _forward(self, ids, mask, pos, cache):
        # The base model plus lm_head on the last position only: logits of the whole prompt
        # (batch x length x 128k) would cost more memory than the model.
        out = self.model.model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                               use_cache=True)
        logits = self.model.lm_head(out.last_hidden_state[:, -1, :])
        return out.past_key_values, logits.argmax(dim=-1)

    def prefill(self, prompts):
        torch = self.torch
        with torch.inference_mode():
            width = max(len(p) for p in prompts)
            ids = torch.zeros((len(prompts), width), dtype=torch.long, device=self.device)
            mask = torch.zeros_like(ids)
            for i, p in enumerate(prompts):
                ids[i, width - len(p):] = torch.tensor(p, device=self.device)
                mask[i, width - len(p):] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            cache, nxt = self._forward(ids, mask, pos, None)
            return (cache, mask, pos[:, -1:]), nxt.tolist()

    def decode(self, state, tokens):
        torch = self.torch
        cache, mask, pos = state
        with torch.inference_mode():
            ids = torch.tensor(tokens, device=self.device).unsqueeze(1)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            pos = pos + 1
            cache, nxt = self._forward(ids, mask, pos, cache)
            return (cache, mask, pos), nxt.tolist()


class Engine(threading.Thread):
    """Takes up to max_batch waiting requests as one wave, prefills them together and decodes
    until every row has its max_tokens; requests arriving meanwhile wait for the next wave."""

    def __init__(self, backend, max_batch):
        super().__init__(daemon=True)
        self.backend, self.max_batch = backend, max_batch
        self.waiting = queue.Queue()
        self.waves = 0
        self.busy_s = 0.0

    def submit(self, req):
        self.waiting.put(req)

    @staticmethod
    def _emit(items):
        for req, tok in items:
            req.out.put_nowait(tok)

    def _post(self, batch, toks):
        by_loop = {}
        for req, t in zip(batch, toks):
            by_loop.setdefault(req.loop, []).append((req, t))
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(self._emit, items)

    def run(self):
        while True:
            batch = [self.waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            t0 = time.monotonic()
            try:
                self._wave(batch)
            except Exception as e:  # a failed wave fails its requests, not the server
                print("server: wave failed: %r" % e, file=sys.stderr, flush=True)
                self._post(batch, [e] * len(batch))
            self.waves += 1
            self.busy_s += time.monotonic() - t0

    def _wave(self, batch):
        state, toks = self.backend.prefill([r.ids for r in batch])
        produced = 1
        self._post(batch, toks)
        longest = max(r.max_tokens for r in batch)
        while produced < longest:
            state, toks = self.backend.decode(state, toks)
            produced += 1
            live = [(r, t) for r, t in zip(batch, toks) if produced <= r.max_tokens]
            self._post([r for r, _ in live], [t for _, t in live])
            if all(r.cancelled for r in batch):
                break
        self._post(batch, [None] * len(batch))


def sse(obj):
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()) + b"\n\n"


def error(status, msg):
    return web.json_response({"error": {"message": msg, "type": "invalid_request_error", "code": status}},
                             status=status)


async def handle(request):
    app = request.app
    chat = request.path.endswith("/chat/completions")
    try:
        body = await request.json()
    except ValueError:
        return error(400, "body is not JSON")
    if chat:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return error(400, "'messages' must be a non-empty array")
        text = " ".join(m.get("content") if isinstance(m.get("content"), str) else
                        " ".join(p.get("text", "") for p in m.get("content") or [] if isinstance(p, dict))
                        for m in msgs if isinstance(m, dict))
    else:
        text = body.get("prompt")
        if isinstance(text, list):
            text = " ".join(str(t) for t in text)
        if not isinstance(text, str):
            return error(400, "'prompt' must be a string")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 16
    if not isinstance(max_tokens, int) or max_tokens < 1 or max_tokens > app["max_tokens"]:
        return error(400, "'max_tokens' must be an integer from 1 to %d" % app["max_tokens"])
    # Random weights never produce a meaningful end-of-sequence: every request generates
    # max_tokens, which is what ignore_eos asks for anyway.
    ids = app["tok"].encode(text)[-app["max_prompt"]:]
    req = Request(ids, max_tokens, asyncio.get_running_loop())
    app["engine"].submit(req)
    rid = "cmpl-%d" % next(app["ids"])
    created = int(time.time())
    model = body.get("model") or app["model_name"]
    usage = {"prompt_tokens": len(ids), "completion_tokens": max_tokens, "total_tokens": len(ids) + max_tokens}
    if not body.get("stream"):
        toks = []
        while True:
            t = await req.out.get()
            if t is None:
                break
            if isinstance(t, Exception):
                return error(500, "generation failed: %r" % t)
            toks.append(t)
        text = "".join(WordTokenizer.decode(t) for t in toks)
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"} if chat
                  else {"index": 0, "text": text, "finish_reason": "length"})
        return web.json_response({"id": rid, "object": "chat.completion" if chat else "text_completion",
                                  "created": created, "model": model, "system_fingerprint": NOTICE,
                                  "choices": [choice], "usage": usage})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                       "X-Model-Weights": "random"})
    await resp.prepare(request)
    base = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
            "model": model, "system_fingerprint": NOTICE}
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    n = 0
    try:
        if chat:
            await resp.write(sse(dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                      "finish_reason": None}])))
        while True:
            t = await req.out.get()
            if t is None:
                break
            if isinstance(t, Exception):
                await resp.write(sse({"error": {"message": "generation failed: %r" % t, "type": "server_error",
                                                "code": 500}}))
                break
            n += 1
            fin = "length" if n == max_tokens else None
            choice = ({"index": 0, "delta": {"content": WordTokenizer.decode(t)}, "finish_reason": fin} if chat
                      else {"index": 0, "text": WordTokenizer.decode(t), "logprobs": None, "finish_reason": fin})
            await resp.write(sse(dict(base, choices=[choice])))
        if include_usage:
            await resp.write(sse(dict(base, choices=[], usage=usage)))
        await resp.write(sse(b"[DONE]"))
    except (ConnectionResetError, asyncio.CancelledError):
        req.cancelled = True
        raise
    return resp


async def models(request):
    app = request.app
    return web.json_response({"object": "list", "data": [
        {"id": app["model_name"], "object": "model", "owned_by": "greenops", "description": NOTICE,
         "parameters": app["params"]}]})


async def health(request):
    e = request.app["engine"]
    return web.json_response({"status": "ok", "weights": "random", "waves": e.waves, "busy_s": round(e.busy_s, 3)})


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model-size", choices=sorted(SHAPES), default="1b")
    p.add_argument("--engine", choices=["torch", "fake"], default="torch",
                   help="torch: the model on --device; fake: no model, --fake-step-ms per step (tests)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--max-batch", type=int, default=64, help="requests per wave")
    p.add_argument("--max-tokens", type=int, default=4096)
    p.add_argument("--max-prompt", type=int, default=4096, help="prompt tokens kept (the last ones)")
    p.add_argument("--fake-step-ms", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0: any free port (printed as 'PORT n')")
    a = p.parse_args()
    vocab = SHAPES[a.model_size]["vocab_size"]
    t0 = time.monotonic()
    if a.engine == "fake":
        backend, params = FakeBackend(vocab, a.fake_step_ms / 1000), 0
        name = "fake-%s" % a.model_size
    else:
        backend = TorchBackend(a.model_size, a.device, a.dtype, a.seed)
        params, name = backend.params, "%s-random" % backend.name
        # One small wave so that kernels are loaded before the first measured request.
        st, toks = backend.prefill([[1, 2, 3]])
        backend.decode(st, toks)
    print("server: %s (%s params) on %s, %s; ready in %.1f s; %s" % (
        name, "{:,}".format(params) if params else "no", a.device if a.engine == "torch" else "cpu",
        a.engine, time.monotonic() - t0, NOTICE), file=sys.stderr, flush=True)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["tok"] = WordTokenizer(vocab)
    app["engine"] = Engine(backend, a.max_batch)
    app["engine"].start()
    app["ids"] = iter(range(1, 1 << 62))
    app["model_name"] = name
    app["params"] = params
    app["max_tokens"] = a.max_tokens
    app["max_prompt"] = a.max_prompt
    app.router.add_post("/v1/completions", handle)
    app.router.add_post("/v1/chat/completions", handle)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)

    async def serve():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, a.host, a.port, backlog=4096)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print("PORT %d" % port, flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()

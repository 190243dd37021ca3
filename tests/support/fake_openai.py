"""A loopback OpenAI-compatible chat-completions server for tests, benchmarks and offline demos.

It answers ``POST /v1/chat/completions`` on 127.0.0.1 from a thread per connection (HTTP/1.1 keep-alive),
so many requests can be in flight at once. Requests are attributed to an *item* by the ``item=<key>``
marker found in the last user message (put it in the caption), and each item can be given a script of
faults served in order before normal answers resume::

    server = FakeChatServer(script={"img1": [{"status": 429, "retry_after": "1"}], "img2": [{"delay": 2.0}]})
    with server:
        config = GenerationConfig(base_url=server.base_url, ...)

Fault steps: ``{"status": code, "retry_after": "..."}`` (an error response), ``{"delay": s}`` (answer
normally but only after ``s`` seconds), ``{"content": text}`` (answer with this message content),
``{"refusal": text}`` (a refusal message), ``{"body": text}`` (a raw, possibly malformed, 200 body),
``{"drop": true}`` (close the connection without any answer, as a dead endpoint would).

Messages may carry content parts (``[{"type": "text", ...}, {"type": "image_url", "image_url": {"url":
"data:image/png;base64,...", "detail": "low"}}]``): the marker is read from the text parts, and a request without
a marker is attributed to its first image, ``img-<sha256 of the image bytes, 12 hex digits>``
(:func:`image_item`). Every image received is decoded and kept in :attr:`FakeChatServer.images`; a data URL that
does not decode is answered 400. A request with ``"logprobs": true`` gets the answer's tokens (words, spaces
attached, and punctuation: :func:`split_tokens`) with their log-probabilities and ``top_logprobs`` alternatives
from ``top_logprobs(item, position, token)`` (default: only the token itself, at -0.01), unless the server is
started with ``logprobs=False`` (then ``"logprobs": null``, as servers without the feature answer).

Run ``python -m tests.support.fake_openai --latency 0.2`` to serve from a separate process; it prints
the base URL on its first line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_ITEM = re.compile(r"item=(\S+)")
_DATA_URL = re.compile(r"data:(image/[a-z]+);base64,(.*)", re.DOTALL)
_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def image_item(data: bytes) -> str:
    """The item a request without an ``item=`` marker is attributed to: its first image's bytes."""
    return f"img-{hashlib.sha256(data).hexdigest()[:12]}"


def split_tokens(text: str) -> list[str]:
    """The answer's tokens as this server reports them: words with their leading spaces, and punctuation."""
    return _TOKEN.findall(text)


def _text_and_images(content) -> tuple[str, list[tuple[str, str | None]]]:
    """The text of a message's content (a string or content parts) and its image parts ``(url, detail)``."""
    if not isinstance(content, list):
        return content or "", []
    text = " ".join(part.get("text", "") for part in content if part.get("type") == "text")
    images = [(part["image_url"].get("url", ""), part["image_url"].get("detail")) for part in content
              if part.get("type") == "image_url"]
    return text, images


def default_answer(item: str, request: dict) -> str:
    """Two question/answer pairs as structured JSON (text when no ``response_format`` was sent)."""
    pairs = [
        {"question": f"What stands out in picture {item}?", "answer": "A quiet lake under a pale evening sky."},
        {"question": "How does the scene feel?",
         "answer": "It feels calm: soft light and still water give the view a peaceful, unhurried mood."},
    ]
    if "response_format" in request:
        return json.dumps({"qa": pairs})
    return "\n".join(f"Question: {p['question']}\nAnswer: {p['answer']}" for p in pairs)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    owner: FakeChatServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> bool:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def do_POST(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        messages = request.get("messages") or [{}]
        user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        user, images = _text_and_images(user)
        decoded = []
        for url, detail in images:
            match = _DATA_URL.fullmatch(url)
            try:
                decoded.append((match.group(1), base64.b64decode(match.group(2), validate=True), detail))
            except (AttributeError, ValueError):
                owner._record("?", 400, request)
                self._send(400, b'{"error": {"message": "invalid image data URL", "type": "invalid_request_error"}}')
                return
        found = _ITEM.search(user or "")
        item = found.group(1) if found else image_item(decoded[0][1]) if decoded else "?"
        owner._images(item, decoded)
        if owner.expected_key is not None and self.headers.get("Authorization") != f"Bearer {owner.expected_key}":
            owner._count(item)
            owner._record(item, 401, request)
            self._send(401, b'{"error": {"message": "invalid credentials", "type": "invalid_request_error"}}')
            return
        step = owner._next_step(item)
        if owner.latency_s:
            time.sleep(owner.latency_s)
        if owner.reject_response_format and "response_format" in request:
            owner._record(item, 400, request)
            self._send(400, b'{"error": {"message": "response_format is not supported", "type": "invalid_request_error"}}')
            return
        if step.get("drop"):
            owner._record(item, 0, request)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if "delay" in step:
            time.sleep(step["delay"])
        if "status" in step:
            headers = {"Retry-After": step["retry_after"]} if "retry_after" in step else {}
            owner._record(item, step["status"], request)
            self._send(step["status"], json.dumps({"error": {"message": "injected failure", "type": "server_error"}})
                       .encode(), headers)
            return
        if "body" in step:
            owner._record(item, 200, request)
            if self._send(200, step["body"].encode()):
                owner._answered()
            return
        message = {"role": "assistant", "content": None, "refusal": None}
        if "refusal" in step:
            message["refusal"] = step["refusal"]
        else:
            message["content"] = step["content"] if "content" in step else owner.answer(item, request)
        logprobs = None
        if request.get("logprobs") and owner.logprobs and message["content"] is not None:
            logprobs = {"content": owner._logprobs(item, message["content"], int(request.get("top_logprobs") or 0))}
        body = {
            "id": f"chatcmpl-{item}", "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": logprobs}],
            "usage": {"prompt_tokens": owner.prompt_tokens, "completion_tokens": owner.completion_tokens,
                      "total_tokens": owner.prompt_tokens + owner.completion_tokens},
        }
        owner._record(item, 200, request)
        if self._send(200, json.dumps(body).encode()):
            owner._answered()


class FakeChatServer:
    """A threaded loopback chat-completions server with per-item fault scripts and request counters.

    Attributes:
        requests: requests received per item key.
        log: ``(time, item, status, had_response_format)`` per request, in arrival order.
        answered: HTTP 200 responses fully written to the client.
        images: ``(item, mime type, image bytes, detail)`` per image received.
        bodies: every request body received, in arrival order.
    """

    def __init__(self, *, latency_s: float = 0.0, script: dict[str, list[dict]] | None = None,
                 answer: Callable[[str, dict], str] = default_answer, reject_response_format: bool = False,
                 expected_key: str | None = None, prompt_tokens: int = 100, completion_tokens: int = 50,
                 logprobs: bool = True, top_logprobs: Callable[[str, int, str], dict[str, float]] | None = None):
        self.logprobs = logprobs
        self.top_logprobs = top_logprobs or (lambda item, position, token: {token: -0.01})
        self.images: list[tuple[str, str, bytes, str | None]] = []
        self.bodies: list[dict] = []
        self.latency_s = latency_s
        self.script = {key: list(steps) for key, steps in (script or {}).items()}
        self.answer = answer
        self.reject_response_format = reject_response_format
        self.expected_key = expected_key
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.requests: Counter = Counter()
        self.log: list[tuple[float, str, int, bool]] = []
        self.answered = 0
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _count(self, item: str) -> None:
        with self._lock:
            self.requests[item] += 1

    def _next_step(self, item: str) -> dict:
        with self._lock:
            self.requests[item] += 1
            steps = self.script.get(item)
            return steps.pop(0) if steps else {}

    def _record(self, item: str, status: int, request: dict) -> None:
        with self._lock:
            self.log.append((time.monotonic(), item, status, "response_format" in request))
            self.bodies.append(request)

    def _images(self, item: str, decoded: list[tuple[str, bytes, str | None]]) -> None:
        with self._lock:
            self.images.extend((item, mime, data, detail) for mime, data, detail in decoded)

    def _logprobs(self, item: str, content: str, top: int) -> list[dict]:
        """``logprobs.content`` of an answer: each token, its log-probability and ``top`` alternatives (the
        token's own value is its entry in the alternatives, else -0.01)."""
        entries = []
        for position, token in enumerate(split_tokens(content)):
            alternatives = dict(self.top_logprobs(item, position, token))
            ranked = sorted(alternatives.items(), key=lambda pair: -pair[1])[:top]
            entries.append({"token": token, "logprob": alternatives.get(token, -0.01),
                            "bytes": list(token.encode()),
                            "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in ranked]})
        return entries

    def _answered(self) -> None:
        with self._lock:
            self.answered += 1

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self.requests.values())

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self, port: int = 0) -> FakeChatServer:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeChatServer:  # noqa: PYI034
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve a fake OpenAI-compatible chat endpoint on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each answer")
    args = parser.parse_args(argv)
    server = FakeChatServer(latency_s=args.latency).start(args.port)
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

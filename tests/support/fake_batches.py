"""A loopback server speaking the OpenAI Files and Batches endpoints, for the Batch API backend's tests and
its memory benchmark.

Endpoints (under ``/v1``): ``POST /files`` (multipart: ``purpose``, ``file``), ``GET /files/{id}/content``,
``POST /batches``, ``GET /batches`` (newest first, ``limit``/``after``), ``GET /batches/{id}``. Files are kept on disk, so large batches cost the
server little memory.

Each retrieve moves a batch one status along its plan: ``validating``, ``in_progress``, ``finalizing``,
``completed`` by default. The input file is checked when validation ends, as the real API does (every line
a JSON object with a unique ``custom_id``, ``method`` ``POST``, the batch's ``url``, one model; at most
``max_requests`` lines and ``max_bytes`` bytes), and a bad file fails the batch with ``errors``. The
requests run when the batch reaches its end: answers go to the output file, errors to the error file, in
the real line shapes (``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``).

Requests are attributed to an *item* by the ``item=<key>`` marker in their last user message (as in
:mod:`tests.support.fake_openai`), and each item may have a script of steps, one used each time its request
runs: ``{"status": 500}`` (a non-200 response, in the error file), ``{"error": "code"}`` (an error line
without response), ``{"missing": True}`` (no line at all: a partial output), ``{"content": text}``,
``{"refusal": text}`` or ``{"body": {...}}`` (an answer). Batches get plans by creation order:
``{"end": "failed"}`` (validation fails), ``{"end": "expired", "process": k}`` / ``{"end": "cancelled",
"process": k}`` (the first ``k`` requests ran; the others get ``batch_expired`` / ``batch_cancelled`` error
lines). ``hold=True`` keeps every batch ``in_progress`` until :meth:`FakeBatchServer.release`.
``drop_create_answers=n`` makes the first ``n`` ``POST /batches`` calls create their batch and then close the
connection without an answer (a create whose answer is lost).
"""

from __future__ import annotations

import itertools
import json
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_openai import _ITEM, default_answer

TERMINAL = ("completed", "failed", "expired", "cancelled")
_PLANS = {
    "completed": ["validating", "in_progress", "finalizing", "completed"],
    "failed": ["validating", "failed"],
    "expired": ["validating", "in_progress", "expired"],
    "cancelled": ["validating", "in_progress", "cancelling", "cancelled"],
}
_END_ERRORS = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "cancelled": ("batch_cancelled", "This request was cancelled with its batch."),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeBatchServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args) -> None:
        pass

    # ------------------------------------------------------------------ plumbing
    def _json(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorised(self) -> bool:
        owner = self.server.owner
        if owner.expected_key is not None and self.headers.get("Authorization") != f"Bearer {owner.expected_key}":
            owner.auth_failures += 1
            self._error(401, "invalid credentials")
            return False
        return True

    # ------------------------------------------------------------------ routes
    def do_POST(self) -> None:
        body = self._body()
        if not self._authorised():
            return
        owner = self.server.owner
        path = urlsplit(self.path).path
        if path == "/v1/files":
            fields = _multipart(self.headers.get("Content-Type", ""), body)
            if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
                self._error(400, "a file with purpose 'batch' is required")
                return
            self._json(200, owner._add_file(fields["file"][0] or "upload.jsonl", fields["file"][1], "batch"))
        elif path == "/v1/batches":
            request = json.loads(body or b"{}")
            batch, problem = owner._create(request)
            if problem:
                self._error(400, problem)
            elif owner._drop_this_create():
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                self._json(200, batch)
        else:
            self._error(404, f"no route {path}")

    def do_GET(self) -> None:
        if not self._authorised():
            return
        owner = self.server.owner
        parts = urlsplit(self.path)
        path = parts.path
        if path == "/v1/batches":
            query = parse_qs(parts.query)
            self._json(200, owner._list(int(query.get("limit", ["20"])[0]), query.get("after", [None])[0]))
        elif (found := re.fullmatch(r"/v1/batches/([^/]+)", path)) is not None:
            batch = owner._retrieve(found.group(1))
            self._json(200, batch) if batch else self._error(404, "no such batch")
        elif (found := re.fullmatch(r"/v1/files/([^/]+)/content", path)) is not None:
            record = owner.files.get(found.group(1))
            if record is None:
                self._error(404, "no such file")
                return
            owner.downloads.append(found.group(1))
            size = record["path"].stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with open(record["path"], "rb") as handle:
                for block in iter(lambda: handle.read(1 << 16), b""):
                    self.wfile.write(block)
        else:
            self._error(404, f"no route {path}")


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Fields of a multipart/form-data body: name -> (file name or None, content)."""
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        return {}
    fields = {}
    for part in body.split(b"--" + found.group(1).encode())[1:-1]:
        head, _, content = part.partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        filename = re.search(rb'filename="([^"]*)"', head)
        if name:
            fields[name.group(1).decode()] = (filename.group(1).decode() if filename else None,
                                              content[:-2] if content.endswith(b"\r\n") else content)
    return fields


class FakeBatchServer:
    """A threaded loopback Files + Batches server.

    Attributes:
        uploads: ``{"id", "filename", "lines", "bytes"}`` per uploaded input file, in order.
        created: batch ids in creation order.
        batches: batch objects by id (as served).
        runs: how many times each item's request ran.
        bodies: per item, the request bodies it was sent with, in order.
        retrieves: ``GET /batches/{id}`` calls; ``downloads``: file ids whose content was fetched.
    """

    def __init__(self, *, answer: Callable[[str, dict], str] = default_answer,
                 script: dict[str, list[dict]] | None = None, batch_plans: list[dict] | None = None,
                 hold: bool = False, expected_key: str | None = None, prompt_tokens: int = 100,
                 completion_tokens: int = 50, folder: str | Path | None = None, max_requests: int = 50_000,
                 max_bytes: int = 200_000_000, drop_create_answers: int = 0, keep_bodies: bool = True):
        self.answer = answer
        self.script = {key: list(steps) for key, steps in (script or {}).items()}
        self.batch_plans = list(batch_plans or [])
        self.hold = hold
        self.expected_key = expected_key
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self._tmp = None if folder is not None else tempfile.TemporaryDirectory(prefix="fake-batches-")
        self.folder = Path(folder if folder is not None else self._tmp.name)
        self.max_requests, self.max_bytes = max_requests, max_bytes
        self.drop_create_answers = drop_create_answers
        self.keep_bodies = keep_bodies
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.plans: dict[str, dict] = {}
        self.uploads: list[dict] = []
        self.created: list[str] = []
        self.runs: Counter = Counter()
        self.bodies: dict[str, list[dict]] = {}
        self.retrieves = 0
        self.downloads: list[str] = []
        self.auth_failures = 0
        self.released = False
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._server: _Server | None = None

    # ------------------------------------------------------------------ life cycle
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeBatchServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> FakeBatchServer:  # noqa: PYI034
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def release(self) -> None:
        """Let held batches go on to their end."""
        with self._lock:
            self.released = True

    @property
    def lines_submitted(self) -> int:
        """Request lines in the input files of all batches created."""
        with self._lock:
            return sum(self.batches[b]["request_counts"]["total"] for b in self.created)

    # ------------------------------------------------------------------ files
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _add_file(self, filename: str, content: bytes, purpose: str) -> dict:
        with self._lock:
            file_id = self._new_id("file")
            path = self.folder / f"{file_id}.jsonl"
            path.write_bytes(content)
            self.files[file_id] = {"path": path, "filename": filename, "purpose": purpose,
                                   "created_at": int(time.time())}
            if purpose == "batch":
                self.uploads.append({"id": file_id, "filename": filename, "lines": content.count(b"\n"),
                                     "bytes": len(content)})
            return self._file_object(file_id)

    def _file_object(self, file_id: str) -> dict:
        record = self.files[file_id]
        return {"id": file_id, "object": "file", "bytes": record["path"].stat().st_size,
                "created_at": record["created_at"], "filename": record["filename"], "purpose": record["purpose"],
                "status": "processed"}

    def _write_file(self, lines: list[bytes], name: str) -> str | None:
        if not lines:
            return None
        with self._lock:
            file_id = self._new_id("file")
            path = self.folder / f"{file_id}.jsonl"
            path.write_bytes(b"".join(lines))
            self.files[file_id] = {"path": path, "filename": name, "purpose": "batch_output",
                                   "created_at": int(time.time())}
            return file_id

    # ------------------------------------------------------------------ batches
    def _create(self, request: dict) -> tuple[dict | None, str | None]:
        with self._lock:
            file_id = request.get("input_file_id")
            if file_id not in self.files:
                return None, f"no file {file_id!r}"
            if request.get("completion_window") != "24h":
                return None, "completion_window must be '24h'"
            if request.get("endpoint") not in ("/v1/chat/completions", "/v1/responses", "/v1/embeddings"):
                return None, f"unsupported endpoint {request.get('endpoint')!r}"
            batch_id = self._new_id("batch")
            plan = dict(self.batch_plans[len(self.created)]) if len(self.created) < len(self.batch_plans) else {}
            plan["steps"] = list(_PLANS[plan.get("end", "completed")])
            now = int(time.time())
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": request["endpoint"], "errors": None,
                "input_file_id": file_id, "completion_window": "24h", "status": plan["steps"].pop(0),
                "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
                "expires_at": now + 86400, "finalizing_at": None, "completed_at": None, "failed_at": None,
                "expired_at": None, "cancelling_at": None, "cancelled_at": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": request.get("metadata"),
            }
            self.plans[batch_id] = plan
            self.created.append(batch_id)
            return dict(self.batches[batch_id]), None

    def _drop_this_create(self) -> bool:
        with self._lock:
            if self.drop_create_answers > 0:
                self.drop_create_answers -= 1
                return True
            return False

    def _list(self, limit: int, after: str | None) -> dict:
        with self._lock:
            newest = list(reversed(self.created))
            start = newest.index(after) + 1 if after in newest else 0
            page = newest[start:start + limit]
            return {"object": "list", "data": [dict(self.batches[b]) for b in page],
                    "first_id": page[0] if page else None, "last_id": page[-1] if page else None,
                    "has_more": start + limit < len(newest)}

    def _retrieve(self, batch_id: str) -> dict | None:
        with self._lock:
            self.retrieves += 1
            batch = self.batches.get(batch_id)
            if batch is None:
                return None
            plan = self.plans[batch_id]
            held = self.hold and not self.released and batch["status"] == "in_progress"
            if plan["steps"] and not held:
                self._advance(batch, plan, plan["steps"].pop(0))
            return json.loads(json.dumps(batch))

    def _advance(self, batch: dict, plan: dict, status: str) -> None:
        now = int(time.time())
        if batch["status"] == "validating":
            problems = self._validate(batch)
            if problems or status == "failed":
                batch.update(status="failed", failed_at=now, errors={"object": "list", "data": problems or [
                    {"code": "injected_failure", "message": "the batch failed", "param": None, "line": None}]})
                plan["steps"] = []
                return
        batch["status"] = status
        batch[f"{status}_at"] = now
        if status in ("completed", "expired", "cancelled"):
            self._run(batch, plan)

    def _validate(self, batch: dict) -> list[dict]:
        """The real API's checks of an input file; also counts its requests."""
        path = self.files[batch["input_file_id"]]["path"]
        problems, seen, models, total = [], set(), set(), 0
        if path.stat().st_size > self.max_bytes:
            problems.append({"code": "file_too_large", "message": "the input file is over the size limit",
                             "param": None, "line": None})
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                total += 1
                try:
                    line = json.loads(raw)
                    custom_id, body = line["custom_id"], line["body"]
                    if line.get("method") != "POST" or line.get("url") != batch["endpoint"]:
                        raise ValueError("method must be POST and url the batch's endpoint")
                    if custom_id in seen:
                        raise ValueError(f"duplicate custom_id {custom_id!r}")
                    seen.add(custom_id)
                    models.add(body.get("model"))
                except (ValueError, KeyError, TypeError) as exc:
                    problems.append({"code": "invalid_request", "message": str(exc), "param": None, "line": number})
        if total > self.max_requests:
            problems.append({"code": "too_many_requests", "message": f"{total} requests > {self.max_requests}",
                             "param": None, "line": None})
        if len(models) > 1:
            problems.append({"code": "mixed_models", "message": "one model per batch", "param": None, "line": None})
        batch["request_counts"]["total"] = total
        return problems[:10]

    def _run(self, batch: dict, plan: dict) -> None:
        """Run the batch's requests (the first ``process`` ones when it expired or was cancelled)."""
        end = plan.get("end", "completed")
        limit = plan.get("process") if end in _END_ERRORS else None
        output, errors = [], []
        counts = batch["request_counts"]
        with open(self.files[batch["input_file_id"]]["path"], "rb") as handle:
            for number, raw in enumerate(handle):
                line = json.loads(raw)
                custom_id, body = line["custom_id"], line["body"]
                result = {"id": f"batch_req_{batch['id']}_{number}", "custom_id": custom_id, "response": None,
                          "error": None}
                if limit is not None and number >= limit:
                    code, message = _END_ERRORS[end]
                    result["error"] = {"code": code, "message": message}
                    errors.append((json.dumps(result, ensure_ascii=False) + "\n").encode())
                    counts["failed"] += 1
                    continue
                item = _item_of(body)
                self.runs[item] += 1
                if self.keep_bodies:
                    self.bodies.setdefault(item, []).append(body)
                steps = self.script.get(item)
                step = steps.pop(0) if steps else {}
                if step.get("missing"):
                    continue
                if "error" in step:
                    result["error"] = {"code": step["error"], "message": step.get("message", "injected error")}
                    errors.append((json.dumps(result, ensure_ascii=False) + "\n").encode())
                    counts["failed"] += 1
                    continue
                status = step.get("status", 200)
                result["response"] = {"status_code": status, "request_id": f"req_{number}",
                                      "body": self._response_body(item, body, step, status)}
                if status == 200:
                    output.append((json.dumps(result, ensure_ascii=False) + "\n").encode())
                    counts["completed"] += 1
                else:
                    errors.append((json.dumps(result, ensure_ascii=False) + "\n").encode())
                    counts["failed"] += 1
        batch["output_file_id"] = self._write_file(output, f"{batch['id']}_output.jsonl")
        batch["error_file_id"] = self._write_file(errors, f"{batch['id']}_error.jsonl")

    def _response_body(self, item: str, body: dict, step: dict, status: int) -> dict:
        if status != 200:
            return {"error": {"message": step.get("message", "injected failure"), "type": "server_error",
                              "param": None, "code": None}}
        if "body" in step:
            return step["body"]
        message = {"role": "assistant", "content": None, "refusal": None}
        if "refusal" in step:
            message["refusal"] = step["refusal"]
        else:
            message["content"] = step["content"] if "content" in step else self.answer(item, body)
        return {"id": f"chatcmpl-{item}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                          "total_tokens": self.prompt_tokens + self.completion_tokens}}


def _item_of(body: dict) -> str:
    messages = body.get("messages") or [{}]
    user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    found = _ITEM.search(user or "")
    return found.group(1) if found else "?"

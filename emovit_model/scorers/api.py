"""API models: any OpenAI-compatible chat-completions endpoint that takes images (OpenAI's GPT-4o / GPT-4.1 /
GPT-5, or an open model served by vLLM, SGLang or Ollama).

Each image goes out as a base64 data URL (the file's own bytes when it is a JPEG, PNG, WebP or GIF on disk, else
PNG) with the configured ``detail``, after the instruction, in one user turn. Sending is the generation stage's
machinery (:mod:`builder.generation.chat_client`: concurrency, retries honouring ``Retry-After``, a dead endpoint
stopping the run, the key kept out of everything stored); every answer is committed to a SQLite response cache
keyed by the model, endpoint, instruction, the image's pixels and the sampling parameters, so an image already
answered is never paid for twice.

* **generate** — greedy (temperature 0) answer, parsed like every other model's; an empty, refused or
  malformed answer is an unparseable one (label ``None``).
* **rank** — only where the server returns ``logprobs`` with ``top_logprobs``. An approximation, not a
  likelihood of the whole answer: the answer is generated once; at the position where its label word starts
  (right after ``Predict emotion:``, else the first token) each candidate label scores the log-probability of
  the listed alternative token that is the longest prefix of the label (its first token as the model writes
  it); a label with no such token among the ``top_logprobs`` gets the smallest listed log-probability (an
  upper bound of its own). An endpoint that returns no log-probabilities is refused with one line.

A request that still fails after its retries stops the run with one line once the batch is done (what was
answered stays cached, so a rerun sends only the rest). Image tokens for cost estimates follow OpenAI's
documented tiling rule (:func:`image_tokens`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import SimpleNamespace

from emovit_model.scorers.base import Candidates, Ranking, Scorer
from schemas.errors import UsageError

log = logging.getLogger(__name__)

#: Version of the request layout (part of every cache key).
REQUEST_VERSION = "bench-api-v1"
#: ``detail`` values the API accepts.
DETAILS = ("low", "high", "auto")
#: Image formats sent as they are on disk (anything else is re-encoded as PNG).
SENT_AS_IS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
#: Tile-rule token counts ``(base, per 512-px tile)`` by model name prefix (OpenAI's vision pricing notes);
#: other models use GPT-4o's.
TILE_TOKENS: dict[str, tuple[int, int]] = {"gpt-4o-mini": (2833, 5667), "o1": (75, 150), "o3": (75, 150)}
DEFAULT_TILE_TOKENS = (85, 170)


@dataclass(frozen=True)
class ApiModel:
    """An OpenAI-compatible chat model, standing where a loaded checkpoint stands for local models.

    Args:
        name: the model name the endpoint knows (``gpt-4o-mini``, ``Qwen/Qwen2.5-VL-7B-Instruct`` ...).
        base_url: the endpoint (``None``: ``OPENAI_BASE_URL`` if set, else OpenAI's API).
        api_key_env: the environment variable holding the key (read only when a request is sent).
        detail: the image ``detail`` sent (``low``: 85 tokens an image on OpenAI; ``high``; ``auto``).
        temperature: sent with every request (``None``: not sent, for models that refuse it).
        top_logprobs: alternatives asked per token in rank mode (OpenAI allows up to 20).
        max_tokens_param: the name of the completion-length limit (``max_completion_tokens`` for o-series).
        seed: sent with every request.
        cache_dir: folder of the response cache (``responses.sqlite``); ``None``: no cache.
        max_in_flight, max_retries, timeout_s, max_connection_failures, backoff_base_s, backoff_max_s: the
            client's concurrency and retry policy (:class:`builder.generation.chat_client.ClientSettings`).
        price_per_million_input, price_per_million_output: USD per million tokens (``None``: list price).
    """

    name: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    detail: str = "auto"
    temperature: float | None = 0.0
    top_logprobs: int = 20
    max_tokens_param: str = "max_tokens"
    seed: int = 0
    cache_dir: str | None = None
    max_in_flight: int = 8
    max_retries: int = 5
    timeout_s: float = 60.0
    max_connection_failures: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    price_per_million_input: float | None = None
    price_per_million_output: float | None = None
    config: SimpleNamespace = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or not str(self.name).strip():
            raise UsageError("an API model needs a model name (path: MODEL_NAME)")
        if self.detail not in DETAILS:
            raise UsageError(f"detail must be one of {', '.join(DETAILS)}, got {self.detail!r}")
        if not 0 <= int(self.top_logprobs) <= 20:
            raise UsageError(f"top_logprobs must be between 0 and 20, got {self.top_logprobs}")
        base_url = self.base_url or os.environ.get("OPENAI_BASE_URL") or None
        object.__setattr__(self, "base_url", base_url)
        if self.cache_dir is not None:
            object.__setattr__(self, "cache_dir", str(self.cache_dir))
        from builder.generation.chat_client import ClientSettings
        from builder.generation.config import GenerationConfig

        try:  # the generation stage's checks of the endpoint, key variable and retry settings
            GenerationConfig(**{f.name: getattr(self, f.name) for f in fields(ClientSettings)})
        except ValueError as exc:
            raise UsageError(f"API model {self.name}: {exc}") from None
        object.__setattr__(self, "config", SimpleNamespace(
            model_type="openai-chat", architectures=["OpenAIChatCompletions"], name_or_path=self.name))

    @classmethod
    def options(cls) -> tuple[str, ...]:
        """The settings a model entry may give (everything but the name)."""
        return tuple(f.name for f in fields(cls) if f.init and f.name != "name")

    @property
    def endpoint(self) -> str:
        from builder.generation.cache import endpoint_id

        return endpoint_id(self.base_url)

    @property
    def cache_path(self) -> Path | None:
        return None if self.cache_dir is None else Path(self.cache_dir) / "responses.sqlite"

    def prices(self):
        from builder.generation.pricing import resolve_prices

        return resolve_prices(self.name, self.price_per_million_input, self.price_per_million_output)


# ------------------------------------------------------------------------------------------------- images
@dataclass(frozen=True)
class EncodedImage:
    """An image as sent: its data URL, its pixel size and a digest of its pixels (what the cache key holds)."""

    url: str
    size: tuple[int, int]
    digest: str


def encode_image(value) -> EncodedImage:
    """The data URL of an image given as a path, a ``datasets`` image dict (bytes/path) or a PIL image."""
    import base64

    from PIL import Image

    raw = None
    if isinstance(value, (str, Path)):
        raw = Path(value).read_bytes()
    elif isinstance(value, dict):
        raw = value.get("bytes") or (Path(value["path"]).read_bytes() if value.get("path") else None)
        if raw is None:
            raise UsageError("image dict has neither bytes nor path")
    image = Image.open(io.BytesIO(raw)) if raw is not None else value
    if not isinstance(image, Image.Image):
        raise UsageError(f"unsupported image value of type {type(value).__name__}")
    mime = SENT_AS_IS.get(image.format or "") if raw is not None else None
    rgb = image.convert("RGB")
    if mime is None:
        buffer = io.BytesIO()
        rgb.save(buffer, format="PNG")
        raw, mime = buffer.getvalue(), "image/png"
    digest = hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()
    return EncodedImage(f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}", rgb.size, digest)


def image_size(value) -> tuple[int, int]:
    """``(width, height)`` of an image input, reading only the file header where it can."""
    from PIL import Image

    if isinstance(value, Image.Image):
        return value.size
    if isinstance(value, dict) and value.get("bytes"):
        with Image.open(io.BytesIO(value["bytes"])) as image:
            return image.size
    with Image.open(value["path"] if isinstance(value, dict) else value) as image:
        return image.size


def image_tokens(width: int, height: int, detail: str, model: str = "") -> int:
    """Prompt tokens of an image by OpenAI's tiling rule: ``low`` is the base cost; ``high`` (and ``auto``,
    counted as ``high``: an upper bound) scales the image down to fit 2048 x 2048, then down so its shorter side
    is at most 768 px, and adds the per-tile cost for every 512-px tile covering it."""
    base, per_tile = next((TILE_TOKENS[p] for p in sorted(TILE_TOKENS, key=len, reverse=True)
                           if model == p or model.startswith(p + "-")), DEFAULT_TILE_TOKENS)
    if detail == "low":
        return base
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return base + per_tile * math.ceil(round(width, 6) / 512) * math.ceil(round(height, 6) / 512)


# ------------------------------------------------------------------------------------------------- ranking
def label_position(tokens: list[dict], prefix: str) -> int:
    """The index of the token where the answer's label starts: the first token after text ending in ``prefix``
    (``predict emotion:``, compared without case and surrounding spaces), else 0."""
    text = ""
    wanted = prefix.strip().lower()
    for index, token in enumerate(tokens):
        if wanted and text.strip().lower().endswith(wanted) and token.get("token", "").strip():
            return index
        text += token.get("token", "")
    return 0


def first_token_scores(alternatives: list[dict], labels: tuple[str, ...]) -> dict[str, float]:
    """Each label's log-probability from one position's ``top_logprobs``: the alternative that is the longest
    prefix of the label (case and leading spaces ignored); labels with none get the smallest listed value."""
    listed = [(str(a.get("token", "")).strip().lower(), float(a["logprob"])) for a in alternatives
              if a.get("logprob") is not None and math.isfinite(float(a["logprob"]))]
    if not listed:
        raise ValueError("no top_logprobs at the label position")
    floor = min(lp for _, lp in listed)
    scores = {}
    for label in labels:
        matches = [(len(token), lp) for token, lp in listed if token and label.lower().startswith(token)]
        scores[label] = max(matches)[1] if matches else floor
    return scores


# ------------------------------------------------------------------------------------------------- scorer
@dataclass
class ApiUsage:
    """What this scorer asked of the endpoint so far (tokens and cost of fresh answers only: a cached answer
    costs nothing again)."""

    requests: int = 0
    retries: int = 0
    answered: int = 0
    cached: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class ApiScorer(Scorer):
    """Rank (from ``top_logprobs``) and generate with an :class:`ApiModel`; ``processor`` is unused."""

    family = "openai"
    local = False

    def __init__(self, model: ApiModel, processor=None, options=None) -> None:
        super().__init__(model, processor, options)
        self.api = model
        self.spent = ApiUsage()
        self._prices = model.prices()
        self._logprobs_seen = False  # rank mode: once an answer carried log-probabilities, no more probes

    @property
    def device(self):
        return f"api:{self.api.endpoint}"

    def prompt(self, instruction: str) -> str:
        return (self.options.prompt_template or "{instruction}").format(instruction=self.text(instruction))

    # ---------------------------------------------------------------------------------------- requests
    def messages(self, instruction: str, image_url: str) -> list[dict]:
        """One user turn: the instruction, then the image."""
        return [{"role": "user", "content": [
            {"type": "text", "text": self.prompt(instruction)},
            {"type": "image_url", "image_url": {"url": image_url, "detail": self.api.detail}}]}]

    def body(self, messages: list[dict], max_new_tokens: int, rank: bool) -> dict:
        body: dict = {"messages": messages, self.api.max_tokens_param: max_new_tokens, "seed": self.api.seed}
        if self.api.temperature is not None:
            body["temperature"] = self.api.temperature
        if rank:
            body.update(logprobs=True, top_logprobs=self.api.top_logprobs)
        return body

    def key(self, instruction: str, image: EncodedImage, max_new_tokens: int, rank: bool) -> str:
        """The cache key: the request with the image's pixel digest in place of its bytes (re-encoding the
        same pixels never pays twice)."""
        from builder.generation.cache import response_key

        body = self.body(self.messages(instruction, f"sha256:{image.digest}"), max_new_tokens, rank)
        messages = body.pop("messages")
        return response_key(backend="bench-openai", model=self.api.name, base_url=self.api.base_url,
                            prompt_version=REQUEST_VERSION, messages=messages, params=body)

    def answers(self, images, instructions, max_new_tokens: int, *, rank: bool) -> list:
        """Each image's :class:`~builder.generation.cache.StoredResponse` (from the cache or the endpoint) or
        :class:`~builder.generation.chat_client.Failure`. In rank mode the first request goes alone and the
        rest only if its answer carries log-probabilities."""
        from builder.generation.cache import ResponseCache, StoredResponse
        from builder.generation.chat_client import (
            ChatClient,
            ChatRequest,
            ClientSettings,
            Failure,
            run_blocking,
        )

        path = self.api.cache_path
        cache = ResponseCache(path) if path is not None else None
        outcomes: list = [None] * len(images)
        pending = []
        try:
            for index, (image, instruction) in enumerate(zip(images, instructions)):
                encoded = encode_image(image)
                key = self.key(instruction, encoded, max_new_tokens, rank)
                stored = cache.get(key) if cache is not None else None
                if stored is not None:
                    self.spent.cached += 1
                    outcomes[index] = stored
                else:
                    body = self.body(self.messages(instruction, encoded.url), max_new_tokens, rank)
                    pending.append(ChatRequest(key, f"image {index} ({encoded.digest[:12]})", body, index))
            client = ChatClient(self.api.name, ClientSettings.of(self.api))

            def handle(request, outcome) -> None:
                outcomes[request.index] = outcome
                if isinstance(outcome, Failure):
                    self.spent.failed += 1
                    log.warning("%s: %s: %s", self.api.name, request.item, outcome.reason)
                    return
                self.spent.answered += 1
                self.spent.prompt_tokens += outcome.prompt_tokens
                self.spent.completion_tokens += outcome.completion_tokens
                self.spent.cost_usd += self._prices.cost(outcome.prompt_tokens, outcome.completion_tokens)

            async def send(group) -> None:  # its own connection: the loop may run in another thread
                writer = ResponseCache(path) if path is not None else None
                try:
                    await client.run(group, handle, cache=writer)
                finally:
                    if writer is not None:
                        writer.close()

            groups = [pending]
            if rank and pending and not self._logprobs_seen and not any(self._has_logprobs(o) for o in outcomes):
                groups = [pending[:1], pending[1:]]  # a probe: is there any log-probability to rank by?
            for group in groups:
                try:
                    run_blocking(lambda group=group: send(group))
                finally:
                    self.spent.requests += client.stats.requests
                    self.spent.retries += client.stats.retries
                    client.stats.requests = client.stats.retries = 0
                probe = outcomes[group[0].index] if group else None
                if len(groups) > 1 and group is groups[0] and isinstance(probe, StoredResponse):
                    if not self._has_logprobs(probe):
                        raise self._no_logprobs()
                    self._logprobs_seen = True
        finally:
            if cache is not None:
                cache.close()
        failed = [o for o in outcomes if isinstance(o, Failure) and o.code == "request_failed"]
        if failed:
            raise UsageError(f"{self.api.name} at {self.api.endpoint}: {len(failed)} request(s) got no answer after "
                             f"{self.api.max_retries} retries ({failed[-1].reason}); the answers received are cached: "
                             "rerun to send only the rest")
        return outcomes

    @staticmethod
    def _has_logprobs(outcome) -> bool:
        return getattr(outcome, "logprobs", None) is not None

    def _no_logprobs(self) -> UsageError:
        return UsageError(f"{self.api.name} at {self.api.endpoint} returns no logprobs/top_logprobs, which rank mode "
                          "needs; score this model with mode: generate")

    # ---------------------------------------------------------------------------------------- modes
    def generate(self, images, instructions, max_new_tokens: int) -> list[str]:
        texts = []
        for outcome in self.answers(images, instructions, max_new_tokens, rank=False):
            content = getattr(outcome, "content", None)
            texts.append((content if content is not None else getattr(outcome, "refusal", None) or "").strip())
        return texts

    #: Tokens generated in rank mode: enough for ``Predict emotion: <label>``.
    rank_tokens: int = 12

    def rank(self, images, instructions, candidates: Candidates) -> Ranking:
        import torch

        prefix = candidates.answers[0].split(candidates.labels[0])[0] if candidates.answers else ""
        rows = []
        outcomes = self.answers(images, instructions, self.rank_tokens, rank=True)
        missing = sum(not self._has_logprobs(o) for o in outcomes)
        if missing:
            raise UsageError(f"{self.api.name} at {self.api.endpoint}: {missing} of {len(outcomes)} answers carry no "
                             "logprobs (refused, empty or malformed); rank mode needs them for every image: score "
                             "this model with mode: generate")
        for outcome in outcomes:
            tokens = json.loads(outcome.logprobs)
            position = label_position(tokens, prefix)
            try:
                scores = first_token_scores(tokens[position].get("top_logprobs") or [], candidates.labels)
            except ValueError:
                raise self._no_logprobs() from None
            rows.append([scores[label] for label in candidates.labels])
        return Ranking(torch.tensor(rows, dtype=torch.float64))

    def estimate(self, images, instructions, max_new_tokens: int, *, rank: bool) -> dict:
        """What sending these requests would cost, without sending anything: requests already answered in the
        cache, and for the rest prompt tokens (text by the chars/4 rule, images by :func:`image_tokens`),
        completion tokens (at most ``max_new_tokens`` each) and their price."""
        from builder.generation.cache import ResponseCache
        from builder.generation.pricing import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY, estimate_tokens

        path = self.api.cache_path
        cache = ResponseCache(path) if path is not None and path.is_file() else None
        found = {"images": len(images), "cached": 0, "requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        try:
            for image, instruction in zip(images, instructions):
                if cache is not None and cache.get(self.key(instruction, encode_image(image), max_new_tokens, rank)):
                    found["cached"] += 1
                    continue
                width, height = image_size(image)
                found["requests"] += 1
                found["prompt_tokens"] += (estimate_tokens(self.prompt(instruction)) + TOKENS_PER_MESSAGE
                                           + TOKENS_PER_REPLY + image_tokens(width, height, self.api.detail,
                                                                             self.api.name))
                found["completion_tokens"] += max_new_tokens
        finally:
            if cache is not None:
                cache.close()
        found["cost_usd"] = self._prices.cost(found["prompt_tokens"], found["completion_tokens"])
        return found

    def usage(self) -> dict:
        prices = self._prices
        return {**asdict(self.spent), "model": self.api.name, "endpoint": self.api.endpoint,
                "detail": self.api.detail, "prices": {"input_per_million": prices.input,
                                                      "output_per_million": prices.output, "source": prices.source}}


__all__ = ["DETAILS", "ApiModel", "ApiScorer", "ApiUsage", "EncodedImage", "encode_image", "first_token_scores",
           "image_size", "image_tokens", "label_position"]

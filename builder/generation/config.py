"""Options of the instruction generators, validated on construction and saved with every build."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class GenerationConfig:
    """How to generate conversation and reasoning samples.

    The API key itself is never part of the config: ``api_key_env`` names the environment variable that
    holds it, read only when requests are sent.

    Args:
        cache_dir: directory of the response cache (``responses.sqlite``); None disables caching.
        base_url: OpenAI-compatible endpoint (vLLM, Ollama, a gateway); None means the OpenAI API.
        api_key_env: name of the environment variable holding the API key.
        max_in_flight: requests sent concurrently.
        max_retries: retries per item after 429, 5xx, timeouts and connection errors (0 = try once).
        timeout_s: per-request timeout in seconds.
        temperature, seed, max_tokens: sampling parameters sent with each request (``max_tokens`` None:
            not sent). ``seed`` also seeds the template backend's phrasing choices.
        split_turns: split multi-turn answers into single-QA samples ``<image_id>-<kind>-<n>`` (as EmoVIT
            did) instead of keeping one conversation ``<image_id>-<kind>``.
        use_structured_output: ask for JSON via ``response_format`` (json_schema); when the server rejects
            it, the run falls back to plain requests and parses ``Question:``/``Answer:`` text.
        price_per_million_input, price_per_million_output: USD per 1M prompt / completion tokens, for the
            cost estimate; None takes the model's list price from :mod:`builder.generation.pricing`.
        max_connection_failures: consecutive connection failures (no HTTP answer at all) after which the
            endpoint counts as down and the run stops; any HTTP answer, 429 included, resets the count.
        backoff_base_s, backoff_max_s: exponential backoff (with jitter) between retries; a server's
            ``Retry-After`` is honoured up to ``backoff_max_s``.
    """

    cache_dir: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_in_flight: int = 8
    max_retries: int = 5
    timeout_s: float = 60.0
    temperature: float = 1.0
    seed: int = 0
    max_tokens: int | None = None
    split_turns: bool = True
    use_structured_output: bool = True
    price_per_million_input: float | None = None
    price_per_million_output: float | None = None
    max_connection_failures: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", str(self.cache_dir))
        if not _ENV_NAME.match(self.api_key_env or ""):
            # Never echo the value: a key pasted here by mistake must not end up in logs.
            raise ValueError("api_key_env must be the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                             "not the key itself")
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("base_url must be an http:// or https:// URL with a host")
            if parts.username or parts.password:
                raise ValueError("base_url must not carry credentials; put the key in the environment variable "
                                 "named by api_key_env")
        self._check_int("max_in_flight", 1)
        self._check_int("max_retries", 0)
        self._check_int("seed", 0)
        if self.max_tokens is not None:
            self._check_int("max_tokens", 1)
        self._check_number("timeout_s", 0.0, strict=True)
        self._check_number("backoff_base_s", 0.0)
        self._check_number("backoff_max_s", 0.0)
        for name in ("price_per_million_input", "price_per_million_output"):
            if getattr(self, name) is not None:
                self._check_number(name, 0.0)
        self._check_int("max_connection_failures", 1)
        self._check_number("temperature", 0.0)
        if self.temperature > 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        for name in ("split_turns", "use_structured_output"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")  # noqa: TRY004

    def _check_int(self, name: str, minimum: int) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")

    def _check_number(self, name: str, minimum: float, *, strict: bool = False) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < minimum or (strict and value == minimum):
            relation = ">" if strict else ">="
            raise ValueError(f"{name} must be a finite number {relation} {minimum}, got {value!r}")

    @property
    def cache_path(self) -> Path | None:
        """The response cache database, or None when caching is off."""
        return None if self.cache_dir is None else Path(self.cache_dir) / "responses.sqlite"

    def to_dict(self) -> dict:
        """Plain values for the run config (holds the variable's name, never the key)."""
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict) -> GenerationConfig:
        """Build from a dict (unknown keys are an error naming them)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown generation option(s): {', '.join(unknown)}")
        return cls(**values)

"""``openai``: any OpenAI-compatible chat-completions endpoint that takes images (:mod:`emovit_model.scorers.api`).

A model entry names the model and, optionally, the endpoint; the key comes from ``OPENAI_API_KEY`` (or the
variable ``options.api_key_env`` names)::

    - {name: gpt-4o-mini, adapter: openai, path: gpt-4o-mini, options: {detail: low}}
    - {name: qwen-vllm, adapter: openai, path: Qwen/Qwen2.5-VL-7B-Instruct, base_url: "http://127.0.0.1:8000/v1",
       mode: generate}

The endpoint is the entry's ``base_url``, else ``OPENAI_BASE_URL``, else OpenAI's API. Answers are cached under
``OUT/_cache/api/responses.sqlite`` (shared by every run of the output folder). The run key holds the endpoint,
the model and the options that change answers (``detail``, ``temperature``, ``top_logprobs``, ``seed``, the
prompt), not prices, concurrency or retry settings. What a run cost goes into its ``config.json`` (``cost``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks.adapters.base import Adapter
from schemas.errors import UsageError

#: Options that only change how requests are sent or priced, never the answers (kept out of the run key).
OPERATIONAL = ("api_key_env", "max_in_flight", "max_retries", "timeout_s", "max_connection_failures",
               "backoff_base_s", "backoff_max_s", "price_per_million_input", "price_per_million_output")
#: Classifier options an API model understands.
TEXT_OPTIONS = ("normalise", "prompt_template")
#: Counters of :class:`emovit_model.scorers.api.ApiUsage` summed across sessions.
COUNTERS = ("requests", "retries", "answered", "cached", "failed", "prompt_tokens", "completion_tokens", "cost_usd")


@dataclass(frozen=True)
class ApiAdapter(Adapter):
    """An OpenAI-compatible endpoint; ``path`` is the model name."""

    def _api_options(self) -> tuple[str, ...]:
        from emovit_model.scorers.api import ApiModel

        return tuple(name for name in ApiModel.options() if name not in ("base_url", "cache_dir"))

    def prepare(self, entry: dict, workdir: Path) -> str | None:
        return entry.get("path") or self.checkpoint

    def identity(self, reference: str, entry: dict) -> str:
        from builder.generation.cache import endpoint_id

        return f"openai:{endpoint_id(self._base_url(entry))}/{reference}"

    @staticmethod
    def _base_url(entry: dict | None) -> str | None:
        import os

        return (entry or {}).get("base_url") or os.environ.get("OPENAI_BASE_URL") or None

    def key_options(self, options: dict) -> dict:
        return {name: value for name, value in options.items() if name not in OPERATIONAL}

    def load(self, reference: str, *, device="auto", dtype="auto", options: dict | None = None,
             entry: dict | None = None, workdir: Path | None = None):
        from emovit_model.scorers.api import ApiModel
        from emovit_model.scoring import EmotionClassifier

        options = dict(options or {})
        allowed = (*TEXT_OPTIONS, *self._api_options())
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise UsageError(f"adapter {self.name}: unknown option(s) {', '.join(unknown)}; allowed: "
                             f"{', '.join(allowed)}")
        text = {name: options.pop(name) for name in TEXT_OPTIONS if name in options}
        cache = str(Path(workdir) / "_cache" / "api") if workdir is not None else None
        model = ApiModel(name=reference, base_url=self._base_url(entry), cache_dir=cache, **options)
        return EmotionClassifier(model, None, **text)

    def check(self, classifier, reference: str) -> None:
        """Any model name is accepted: the endpoint says whether it knows it (HTTP 404 stops the run)."""

    def carried_usage(self, directory: Path, run_key: str) -> dict | None:
        try:
            document = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return document.get("cost") if document.get("run_key") == run_key else None

    def record_usage(self, directory: Path, carried: dict | None, before: dict | None, after: dict | None) -> None:
        """``config.json["cost"]``: the requests, tokens and cost of every session of this run (earlier sessions'
        figures carried over), at the prices in force, with where the prices came from."""
        if after is None:
            return
        from schemas.runinfo import write_json

        path = Path(directory) / "config.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        cost = {name: (carried or {}).get(name, 0) + after[name] - (before or {}).get(name, 0) for name in COUNTERS}
        cost["cost_usd"] = round(cost["cost_usd"], 8)
        document["cost"] = {**cost, "model": after["model"], "endpoint": after["endpoint"], "detail": after["detail"],
                            "prices": after["prices"]}
        write_json(path, document)


OPENAI = ApiAdapter("openai", "openai", any_model=True)

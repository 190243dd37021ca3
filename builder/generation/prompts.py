"""Prompt sets for LLM-generated kinds, read from the package data under ``builder/generation/prompt_files/<kind>/``.

A :class:`PromptSet` holds the system prompt and the in-context examples of one kind; its ``version`` is a
short content hash of the files, the context format and the response schema, recorded with every sample
and part of every response-cache key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from builder.generation.samples import content_hash
from builder.sources.context import CONTEXT_VERSION, render_context
from builder.sources.records import SourceRecord
from schemas.protocol import QAPair

#: Kinds whose samples a language model writes (categorical is fixed by the protocol).
LLM_KINDS: tuple[str, ...] = ("conversation", "reasoning")

#: JSON schema of a structured response: ``{"qa": [{"question": str, "answer": str}, ...]}``.
QA_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "qa": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
                "required": ["question", "answer"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["qa"],
    "additionalProperties": False,
}
#: The ``response_format`` argument asking an OpenAI-compatible server for :data:`QA_SCHEMA`.
QA_RESPONSE_FORMAT: dict = {"type": "json_schema", "json_schema": {"name": "qa_pairs", "strict": True, "schema": QA_SCHEMA}}

_ATTRIBUTE_KEYS = ("brightness", "colorfulness", "scene", "facial_expression", "human_action")


@dataclass(frozen=True)
class PromptExample:
    """One in-context example: the rendered context and the pairs we want for it."""

    context: str
    pairs: tuple[QAPair, ...]


@dataclass(frozen=True)
class PromptSet:
    """System prompt, examples and version of one kind."""

    kind: str
    system: str
    examples: tuple[PromptExample, ...]
    version: str


def _prompt_file(kind: str, name: str) -> str:
    return resources.files("builder.generation").joinpath("prompt_files", kind, name).read_text(encoding="utf-8")


def _example(raw: dict, kind: str, number: int) -> PromptExample:
    record = SourceRecord(
        id=f"example-{number}", split="example", emotion=raw["emotion"], image_path="", annotation_path="",
        objects=tuple(raw.get("objects", ())), **{key: raw.get(key) for key in _ATTRIBUTE_KEYS},
    )
    pairs = tuple(QAPair(p["question"], p["answer"]) for p in raw["qa"])
    if not pairs:
        raise ValueError(f"prompt_files/{kind}/examples.json: example {number} has no QA pairs")
    return PromptExample(render_context(record, raw["caption"]), pairs)


@cache
def load_prompt(kind: str) -> PromptSet:
    """The prompt set of ``kind`` (``conversation`` or ``reasoning``)."""
    if kind not in LLM_KINDS:
        raise ValueError(f"no prompt for kind {kind!r}; prompts exist for {', '.join(LLM_KINDS)}")
    system = _prompt_file(kind, "system.md").strip()
    examples_text = _prompt_file(kind, "examples.json")
    examples = tuple(_example(raw, kind, n) for n, raw in enumerate(json.loads(examples_text)))
    version = content_hash(kind, system, examples_text, CONTEXT_VERSION, json.dumps(QA_SCHEMA, sort_keys=True))
    return PromptSet(kind=kind, system=system, examples=examples, version=version)


def pairs_json(pairs) -> str:
    """The structured response for ``pairs`` (used for the in-context examples' assistant turns)."""
    return json.dumps({"qa": [{"question": q, "answer": a} for q, a in pairs]}, ensure_ascii=False)


def render_messages(prompt: PromptSet, context: str) -> list[dict]:
    """Chat messages: system prompt, each example as a user/assistant exchange, then the image's context."""
    messages = [{"role": "system", "content": prompt.system}]
    for example in prompt.examples:
        messages.append({"role": "user", "content": example.context})
        messages.append({"role": "assistant", "content": pairs_json(example.pairs)})
    messages.append({"role": "user", "content": context})
    return messages

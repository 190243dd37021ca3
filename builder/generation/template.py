"""The offline template backend: attribute-grounded conversation and reasoning samples in fixed phrasings.

Questions and answers are assembled from the phrase tables in ``builder/generation/prompt_files/template/phrases.json``,
filled with the image's attributes and caption. Which question types and phrasings are used is drawn from a
random generator seeded by ``(seed, image id, kind)``, so the output varies across images but is identical
on every run and independent of item order or sharding. The generator holds only plain values: it pickles,
and shards can run in other processes.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from builder.generation.base import GenerationItem, GenerationOutcome, GeneratorInfo
from builder.generation.categorical import categorical_record
from builder.generation.checks import check_pairs
from builder.generation.config import GenerationConfig
from builder.generation.samples import content_hash, generation_quarantine, qa_records
from builder.sources.context import (
    CONTEXT_VERSION,
    brightness_word,
    colorfulness_word,
    noun_list,
    readable_scene,
    with_article,
)
from builder.sources.records import SourceRecord
from schemas.protocol import QAPair

#: Question types of the simple turns, in a fixed order (the RNG picks among those an image supports).
SIMPLE_TYPES: tuple[str, ...] = ("scene", "objects", "action", "expression", "brightness", "colorfulness", "describe")
_PHOTO_OF = re.compile(r"^(?:a|an|the)\s+(?:photo|photograph|picture|image)(?:\s+of\b)?\s*", re.IGNORECASE)


@lru_cache(maxsize=1)
def _phrases_text() -> str:
    return resources.files("builder.generation").joinpath("prompt_files", "template", "phrases.json").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def phrases() -> dict:
    """The phrase tables (parsed once; treat as read-only)."""
    return json.loads(_phrases_text())


def template_version() -> str:
    """Content hash of the phrase tables and context format: the template backend's prompt version."""
    return content_hash("template", _phrases_text(), CONTEXT_VERSION)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rng(seed: int, image_id: str, kind: str) -> random.Random:
    digest = hashlib.blake2b(f"{seed}\x1f{image_id}\x1f{kind}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "little"))


def _slots(record: SourceRecord, caption: str) -> dict[str, str]:
    table = phrases()
    emotion = table["emotions"].get(record.emotion)
    slots = {"emotion": record.emotion}
    if emotion:
        slots.update({key: value for key, value in emotion.items() if isinstance(value, str)})
    if record.scene:
        scene = readable_scene(record.scene)
        slots.update(scene=scene, a_scene=with_article(scene), A_scene=_capital(with_article(scene)))
    if record.objects:
        objects = noun_list(record.objects)
        slots.update(objects=objects, Objects=_capital(objects), objects_be="is" if len(record.objects) == 1 else "are")
    if record.human_action:
        slots["action"] = record.human_action
    if record.facial_expression:
        slots["expression"] = table["expressions"].get(record.facial_expression, record.facial_expression)
    if record.brightness is not None:
        slots["brightness"] = brightness_word(record.brightness)
        slots["light"] = table["light"][slots["brightness"]]
    if record.colorfulness is not None:
        slots["colorfulness"] = colorfulness_word(record.colorfulness)
        slots["palette"] = table["palette"][slots["colorfulness"]]
    text = _PHOTO_OF.sub("", " ".join(caption.split()).rstrip(".")).lstrip(" ,;:")
    if text:
        slots.update(caption=text, Caption=_capital(text))
    return slots


_SLOT_NEEDS = {"scene": "a_scene", "objects": "objects", "action": "action", "expression": "expression",
               "brightness": "brightness", "colorfulness": "colorfulness", "describe": "caption"}


def _evidence(rng: random.Random, record: SourceRecord, slots: dict[str, str]) -> list[str]:
    table = phrases()["evidence"]
    sentences = []
    if "a_scene" in slots and "setting_effect" in slots:
        sentences.append(rng.choice(table["scene"]))
    if "objects" in slots and "objects_effect" in slots:
        sentences.append(rng.choice(table["objects"]))
    if "people_effect" in slots:
        if "action" in slots and "expression" in slots:
            sentences.append(rng.choice(table["action_expression"]))
        elif "action" in slots:
            sentences.append(rng.choice(table["action"]))
        elif "expression" in slots:
            sentences.append(rng.choice(table["expression"]))
    positive = slots.get("valence") == "positive"
    for key, value in (("brightness", record.brightness), ("colorfulness", record.colorfulness)):
        if value is not None and "valence" in slots:
            level = "high" if value >= 0.5 else "low"
            sentences.append(rng.choice(table[key][f"{level}_{'positive' if positive else 'negative'}"]))
    return [sentence.format(**slots) for sentence in sentences]


def conversation_pairs(record: SourceRecord, caption: str, seed: int) -> list[QAPair]:
    """Two simple questions with definite answers and one complex question about the emotional content."""
    table = phrases()
    rng = _rng(seed, record.id, "conversation")
    slots = _slots(record, caption)
    available = [t for t in SIMPLE_TYPES if _SLOT_NEEDS[t] in slots]
    pairs = []
    for kind in rng.sample(available, min(2, len(available))):
        entry = table["simple"][kind]
        pairs.append(QAPair(rng.choice(entry["questions"]), rng.choice(entry["answers"]).format(**slots)))
    complex_ = table["complex"]
    sentences = [rng.choice(complex_["openings"]).format(**slots)] if "mood" in slots else \
        [f"The image evokes {record.emotion}."]
    sentences += _evidence(rng, record, slots)
    if "mood" in slots:
        sentences.append(rng.choice(complex_["closings"]).format(**slots))
    pairs.append(QAPair(rng.choice(complex_["questions"]), " ".join(sentences)))
    return pairs


def reasoning_pairs(record: SourceRecord, caption: str, seed: int) -> list[QAPair]:
    """One question needing inference beyond the visible content, with a detailed answer."""
    table = phrases()
    rng = _rng(seed, record.id, "reasoning")
    slots = _slots(record, caption)
    reasoning = table["reasoning"]
    question_index = rng.randrange(len(reasoning["questions"]))
    sentences = [rng.choice(reasoning["openings"]).format(**slots)]
    evidence = _evidence(rng, record, slots)
    sentences += evidence[:3]
    emotion = table["emotions"].get(record.emotion)
    if emotion:
        sentences.append(rng.choice(emotion["stories"]))
        if question_index in (2,) or rng.random() < 0.5:
            sentences.append(emotion["motive"])
    sentences.append(rng.choice(reasoning["closings"]).format(**slots))
    return [QAPair(reasoning["questions"][question_index], " ".join(sentences))]


_BUILDERS = {"conversation": conversation_pairs, "reasoning": reasoning_pairs}


@dataclass(frozen=True)
class TemplateGenerator:
    """Deterministic offline generator (backend ``template``); handles every kind, categorical included."""

    config: GenerationConfig = field(default_factory=GenerationConfig)

    @property
    def info(self) -> GeneratorInfo:
        return GeneratorInfo(backend="template", model="phrases", prompt_version=template_version(),
                             temperature=0.0, seed=self.config.seed)

    def check_ready(self) -> None:
        """Always ready: no model, no network."""

    def generate(self, items: Sequence[GenerationItem], *, progress: bool = True) -> GenerationOutcome:
        from tqdm.auto import tqdm

        outcome = GenerationOutcome()
        info = self.info
        for item in tqdm(items, desc="generate (template)", unit="item", disable=not progress):
            if item.kind == "categorical":
                outcome.records.append(categorical_record(item.record, item.caption))
                continue
            outcome.usage.generations += 1
            builder = _BUILDERS.get(item.kind)
            if builder is None:
                outcome.quarantined.append(generation_quarantine(item, "unknown_kind", f"unknown kind {item.kind!r}"))
                continue
            pairs = builder(item.record, item.caption, self.config.seed)
            problem = check_pairs(pairs)
            if problem:
                outcome.quarantined.append(generation_quarantine(item, problem[0], problem[1],
                                                                 raw=[list(p) for p in pairs]))
                continue
            outcome.records.extend(qa_records(item, pairs, info, split_turns=self.config.split_turns))
        outcome.usage.failed = len(outcome.quarantined)
        return outcome

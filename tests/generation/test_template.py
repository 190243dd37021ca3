"""The offline template backend: deterministic, grounded, varied, leak-free, picklable."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest

from builder.generation import GenerationConfig, GenerationItem, get_generator
from builder.generation.checks import find_leakage
from builder.generation.template import TemplateGenerator, template_version
from builder.sources.emoset import EmoSetSource
from builder.sources.records import SourceRecord
from builder.sources.synth import SynthConfig, synthesise
from tests.support.reading import image_token_count

KINDS = ("categorical", "conversation", "reasoning")


def _items(records):
    return [GenerationItem(r, f"a photo of {r.emotion}", kind) for r in records for kind in KINDS]


def test_two_runs_are_identical(source_records):
    config = GenerationConfig(seed=3, split_turns=False)
    first = get_generator("template", config).generate(_items(source_records), progress=False)
    second = get_generator("template", config).generate(_items(source_records), progress=False)
    assert [r.to_row() for r in first.records] == [r.to_row() for r in second.records]
    assert len(first.records) == 3 * len(source_records) == 72
    assert first.quarantined == []


def test_order_and_sharding_do_not_change_a_sample(source_records):
    generator = TemplateGenerator(GenerationConfig(split_turns=False))
    whole = {r.id: r for r in generator.generate(_items(source_records), progress=False).records}
    shard = generator.generate(_items(list(reversed(source_records[:5]))), progress=False).records
    assert all(whole[r.id] == r for r in shard)


def test_generator_pickles_and_gives_the_same_output(source_records):
    generator = TemplateGenerator(GenerationConfig(seed=1))
    clone = pickle.loads(pickle.dumps(generator))
    items = _items(source_records[:6])
    assert clone.generate(items, progress=False).records == generator.generate(items, progress=False).records


def test_sample_layout_and_provenance(source_records):
    outcome = TemplateGenerator(GenerationConfig(split_turns=False, seed=5)).generate(_items(source_records),
                                                                                      progress=False)
    by_kind = Counter(r.kind for r in outcome.records)
    assert by_kind == {"categorical": 24, "conversation": 24, "reasoning": 24}
    for record in outcome.records:
        assert image_token_count(record.conversations) == 1
        assert record.conversations[0]["value"].startswith("<image>\n")
        if record.kind == "conversation":
            assert len(record.conversations) == 6  # two simple questions and one complex one
            assert record.emotion in record.conversations[-1]["value"]
        elif record.kind == "reasoning":
            assert len(record.conversations) == 2
            assert len(record.conversations[1]["value"].split()) >= 40
        if record.kind != "categorical":
            assert record.generator.as_dict() == {"backend": "template", "model": "phrases",
                                                  "prompt_version": template_version(), "temperature": 0.0,
                                                  "seed": 5}


def test_split_turns_gives_single_qa_samples(source_records):
    records = source_records[:4]
    outcome = TemplateGenerator(GenerationConfig(split_turns=True)).generate(
        [GenerationItem(r, "c", "conversation") for r in records], progress=False)
    assert [r.id for r in outcome.records] == [f"{r.id}-conversation-{n}" for r in records for n in range(3)]
    assert all(len(r.conversations) == 2 and image_token_count(r.conversations) == 1 for r in outcome.records)


def test_answers_are_grounded_in_the_attributes():
    record = SourceRecord(id="fear_00009", split="train", emotion="fear", image_path="x.jpg", annotation_path="x.json",
                          brightness=0.1, colorfulness=0.2, scene="forest_path", objects=("Spider", "Knife"),
                          facial_expression="fear", human_action="crying")
    outcome = TemplateGenerator(GenerationConfig(split_turns=False)).generate(
        [GenerationItem(record, "a dark path", "conversation"), GenerationItem(record, "a dark path", "reasoning")],
        progress=False)
    conversation, reasoning = outcome.records
    complex_answer = conversation.conversations[5]["value"]
    assert "fear" in complex_answer and "threatening and unsettling" in complex_answer
    assert "forest path" in complex_answer and "a spider and a knife" in complex_answer
    assert "frightened" in complex_answer and "crying" in complex_answer
    assert "fear" in reasoning.conversations[1]["value"]


def test_seed_and_image_vary_the_phrasing(tmp_path):
    root = tmp_path / "tree"
    synthesise(root, SynthConfig(per_class=12, seed=2, splits=("train",), image_size=8), progress=False)
    records = list(EmoSetSource(root, verify_images=False).records("train"))
    items = [GenerationItem(r, "a photo", "conversation") for r in records]
    first = TemplateGenerator(GenerationConfig(seed=0, split_turns=False)).generate(items, progress=False).records
    other = TemplateGenerator(GenerationConfig(seed=1, split_turns=False)).generate(items, progress=False).records
    questions = Counter(r.conversations[0]["value"] for r in first)
    assert len(questions) >= 10  # several question types and phrasings across 96 images
    assert max(questions.values()) < len(records) // 3
    assert sum(a.conversations != b.conversations for a, b in zip(first, other)) > len(records) // 2
    for record in first:
        for turn in record.conversations:
            assert find_leakage(turn["value"]) is None
            assert "{" not in turn["value"] and "}" not in turn["value"]


def test_record_without_attributes_still_gets_a_sample():
    bare = SourceRecord(id="awe_1", split="train", emotion="awe", image_path="x.jpg", annotation_path="x.json")
    outcome = TemplateGenerator(GenerationConfig(split_turns=False)).generate(
        [GenerationItem(bare, "", "conversation"), GenerationItem(bare, "", "reasoning")], progress=False)
    assert [r.kind for r in outcome.records] == ["conversation", "reasoning"]
    assert len(outcome.records[0].conversations) == 2  # nothing to ask a simple question about
    assert "awe" in outcome.records[0].conversations[1]["value"]


def test_unknown_kind_is_quarantined(source_records):
    outcome = TemplateGenerator().generate([GenerationItem(source_records[0], "c", "poetry")], progress=False)
    assert outcome.records == []
    assert [(q.code, q.stage, q.id) for q in outcome.quarantined] == [
        ("unknown_kind", "generation", f"{source_records[0].id}-poetry")]
    assert outcome.usage.failed == 1


def test_leaking_caption_is_quarantined_not_written():
    record = SourceRecord(id="awe_2", split="train", emotion="awe", image_path="x.jpg", annotation_path="x.json")
    # With no attributes the only simple question is "describe", whose answer repeats the caption.
    outcome = TemplateGenerator(GenerationConfig(split_turns=False)).generate(
        [GenerationItem(record, "as an AI I see the caption", "conversation")], progress=False)
    assert outcome.records == []
    assert outcome.quarantined[0].code == "leakage"


def test_rows_fit_the_dataset_features(source_records):
    datasets = pytest.importorskip("datasets")
    from schemas.features import instruction_features

    outcome = TemplateGenerator(GenerationConfig()).generate(_items(source_records[:4]), progress=False)
    rows = [record.to_row() for record in outcome.records]
    table = datasets.Dataset.from_list(rows, features=instruction_features(decode_images=False))
    assert table.num_rows == 4 * (1 + 3 + 1)  # categorical, three split conversation turns, one reasoning turn
    assert table[0]["conversations"][0]["value"].startswith("<image>\n")
    assert table.features["emotion"].int2str(table[0]["emotion"]) == source_records[0].emotion

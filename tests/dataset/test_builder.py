import json
from collections import Counter
from pathlib import Path

import datasets
import pytest

from builder.dataset.build import BuildConfig, build_dataset
from builder.generation.base import GenerationOutcome, GeneratorInfo, InstructionRecord
from schemas.features import instruction_features
from schemas.protocol import CATEGORICAL_INSTRUCTION, categorical_answer, with_image_token
from schemas.vocab import EMOTIONS
from tests.support.reading import read_quarantine


def test_all_config_has_every_kind_and_the_declared_features(built_all):
    out, report = built_all
    built = datasets.load_from_disk(str(out))
    assert set(built) == {"train", "val", "test"}
    for split, dataset in built.items():
        assert dataset.features == instruction_features()
        kinds = Counter(dataset["kind"])
        assert kinds["categorical"] == 24
        assert kinds["conversation"] >= 24 * 2 and kinds["reasoning"] >= 24
        assert report["splits"][split]["samples"] == len(dataset)
        assert report["splits"][split]["images_in_dataset"] == 24
        assert report["splits"][split]["balanced"] is True
    row = next(r for r in built["train"] if r["kind"] == "categorical")
    assert row["conversations"] == [
        {"from": "human", "value": with_image_token(CATEGORICAL_INSTRUCTION)},
        {"from": "gpt", "value": categorical_answer(EMOTIONS[row["emotion"]])},
    ]
    assert row["id"] == f"{row['image_id']}-categorical"
    assert row["image"].size == (16, 16)
    for r in built["val"]:
        conversation = r["conversations"]
        assert conversation[0]["value"].startswith("<image>\n")
        assert sum(t["value"].count("<image>") for t in conversation) == 1
        assert [t["from"] for t in conversation] == ["human", "gpt"] * (len(conversation) // 2)
        assert r["generator"]["backend"] in ("protocol", "template")


def test_build_writes_report_quarantine_config_and_markdown(built_all):
    out, report = built_all
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["fingerprint"] == report["fingerprint"]
    assert on_disk["config"]["config"] == "all"
    assert (out / "quarantine.jsonl").read_text() == ""
    assert json.loads((out / "build_config.json").read_text())["sampling"] == "all"
    markdown = (out / "build_report.md").read_text()
    assert "![class balance](plots/class_balance.png)" in markdown
    for name in ("class_balance", "attributes", "answer_lengths"):
        assert (out / "plots" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("config", ["categorical", "conversation", "reasoning"])
def test_single_kind_configs(build, small_tree_template, tmp_path, config):
    report = build(small_tree_template, tmp_path / "out", tmp_path / "cache", config=config, sampling="all",
                   splits=("val",))
    built = datasets.load_from_disk(str(tmp_path / "out"))
    assert list(built) == ["val"]
    assert set(built["val"]["kind"]) == {config}
    assert report["splits"]["val"]["images_in_dataset"] == 24
    if config == "categorical":
        assert len(built["val"]) == 24


def test_per_class_sampling_follows_the_protocol(build, small_tree_template, tmp_path):
    build(small_tree_template, tmp_path / "out", tmp_path / "cache", config="all", conversation_per_class=1,
          reasoning_per_class=2, categorical_range=(1, 3), splits=("train",), split_turns=False)
    train = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    per_kind = Counter(zip(train["kind"], train["emotion"]))
    for label in range(len(EMOTIONS)):
        assert per_kind[("categorical", label)] == 2
        assert per_kind[("conversation", label)] == 1
        assert per_kind[("reasoning", label)] == 2
    order = [e for e in json.loads((small_tree_template / "train.json").read_text())]
    first_of_class = {}
    for emotion, image, _ in order:
        first_of_class.setdefault(emotion, image.rsplit("/", 1)[-1][:-4])
    conversation_images = {r for r, k in zip(train["image_id"], train["kind"]) if k == "conversation"}
    assert conversation_images == set(first_of_class.values())
    categorical_images = {r for r, k in zip(train["image_id"], train["kind"]) if k == "categorical"}
    assert not categorical_images & set(first_of_class.values())


def test_two_builds_are_identical(build, small_tree_template, tmp_path):
    first = build(small_tree_template, tmp_path / "a", tmp_path / "cache-a", config="all", sampling="all")
    second = build(small_tree_template, tmp_path / "b", tmp_path / "cache-b", config="all", sampling="all")
    assert first["fingerprint"] == second["fingerprint"]
    for split in first["splits"]:
        assert first["splits"][split]["content_hash"] == second["splits"][split]["content_hash"]
    a, b = datasets.load_from_disk(str(tmp_path / "a")), datasets.load_from_disk(str(tmp_path / "b"))
    for split in a:
        states = [json.loads((tmp_path / name / split / "state.json").read_text()) for name in ("a", "b")]
        assert states[0]["_fingerprint"] == states[1]["_fingerprint"] == first["splits"][split]["content_hash"]
        assert a[split].remove_columns("image").to_list() == b[split].remove_columns("image").to_list()


def test_accounting_with_bad_source_entries_and_curation(build, small_tree, tmp_path):
    entries = json.loads((small_tree / "train.json").read_text())
    (small_tree / entries[0][1]).unlink()
    excluded, relabelled = entries[1][2].rsplit("/", 1)[-1][:-5], entries[2][2].rsplit("/", 1)[-1][:-5]
    new_label = next(e for e in EMOTIONS if e != entries[2][0])
    curation = tmp_path / "curation.json"
    curation.write_text(json.dumps({"format": "emovit-curation/1",
                                    "exclude": [{"id": excluded, "reason": "blurry"}],
                                    "relabel": [{"id": relabelled, "emotion": new_label}]}))
    report = build(small_tree, tmp_path / "out", tmp_path / "cache", config="categorical", curation=str(curation))
    train = report["splits"]["train"]
    # curated images are counted apart from quarantined ones: a decision, not a loss
    assert (train["entries"], train["images_in_dataset"], train["images_quarantined"], train["images_curated"],
            train["images_relabelled"]) == (24, 22, 1, 1, 1)
    assert train["inputs"] == 24 == train["images_in_dataset"] + train["images_quarantined"] + train["images_curated"]
    assert train["balanced"] is True
    rows = read_quarantine(tmp_path / "out" / "quarantine.jsonl")
    assert sorted((r["code"], r["stage"]) for r in rows) == [("curation_excluded", "curation"),
                                                             ("missing_image", "source")]
    assert "blurry" in next(r["reason"] for r in rows if r["code"] == "curation_excluded")
    dataset = datasets.load_from_disk(str(tmp_path / "out"))["train"]
    relabelled_row = next(r for r in dataset if r["image_id"] == relabelled)
    assert EMOTIONS[relabelled_row["emotion"]] == new_label
    assert relabelled_row["conversations"][1]["value"] == categorical_answer(new_label)


class PlantedGenerator:
    """Returns one good and several bad samples per item, to exercise the boundary schema."""

    info = GeneratorInfo("planted", "none", "v0", 0.0, 0)

    def check_ready(self):
        pass

    def generate(self, items, *, progress=True):
        records = []
        for item in items:
            r = item.record

            def make(suffix, turns):
                return InstructionRecord(f"{r.id}-{item.kind}{suffix}", r.id, r.split, r.image_path, r.emotion,
                                         r.attributes(), item.caption, item.kind, tuple(turns), self.info)

            human = {"from": "human", "value": "<image>\nHow does it feel?"}
            records += [
                make("-0", [human, {"from": "gpt", "value": "Calm and warm."}]),
                make("-1", [human, {"from": "gpt", "value": "Judging by the caption, it is calm."}]),
                make("-2", [{"from": "human", "value": "How does it feel?"}, {"from": "gpt", "value": "Calm."}]),
                make("-3", [{"from": "gpt", "value": "Calm."}, human]),
                make("-4", [human, {"from": "gpt", "value": "   "}]),
                make("-0", [human, {"from": "gpt", "value": "A second sample with a reused id."}]),
            ]
        return GenerationOutcome(records=records)


def test_planted_bad_generator_outputs_are_quarantined_with_reasons(build, small_tree_template, tmp_path, monkeypatch):
    monkeypatch.setattr(BuildConfig, "make_generator", lambda self, cache_dir: PlantedGenerator())
    report = build(small_tree_template, tmp_path / "out", tmp_path / "cache", config="conversation",
                   sampling="all", splits=("val",))
    val = datasets.load_from_disk(str(tmp_path / "out"))["val"]
    assert len(val) == 24 and all(i.endswith("-conversation-0") for i in val["id"])
    rows = read_quarantine(tmp_path / "out" / "quarantine.jsonl")
    assert Counter(r["code"] for r in rows) == {"no_leakage": 24, "image_token_placement": 24,
                                                "roles_alternate": 24, "turn_length": 24, "duplicate_id": 24}
    assert report["splits"]["val"]["quarantined_entries"] == 120
    assert report["splits"]["val"]["balanced"] is True
    leak = next(r for r in rows if r["code"] == "no_leakage")
    assert leak["stage"] == "validation" and leak["raw"]["conversations"][1]["value"].startswith("Judging")


def test_build_options_are_validated_when_made():
    from schemas.errors import UsageError

    for options, message in (
            ({"config": "everything"}, "config name must be one of categorical, conversation, reasoning, all, got "
                                       "'everything'"),
            ({"sampling": "some"}, "sampling must be one of emovit, all, got 'some'"),
            ({"categorical_range": [5, 2]}, "categorical_range must satisfy 0 <= start <= stop, got (5, 2)"),
            ({"reasoning_per_class": -1}, "conversation_per_class and reasoning_per_class must be >= 0"),
            ({"shard_images": 0}, "shard_images must be >= 1, got 0"),
            ({"splits": ()}, "splits must name each split once, got none"),
            ({"splits": ("val", "val")}, "--splits names val more than once"),
            ({"generation": {"cache_dir": "/tmp/x"}},
             "generation options must not set cache_dir: pass emovit_cache_dir to the builder"),
            ({"generation": {"max_in_flight": 0}}, "generation options: max_in_flight must be an integer >= 1, got 0"),
            ({"generation": {"colour": "red"}}, "generation options: unknown generation option(s): colour"),
            ({"seed": -1}, "generation options: seed must be an integer >= 0, got -1")):
        with pytest.raises(UsageError) as caught:
            BuildConfig(emoset_root="emoset", **options)
        assert str(caught.value) == message, options
    options = BuildConfig(emoset_root="emoset")
    assert options.kinds_for(0) == ("categorical", "conversation", "reasoning")
    assert options.kinds_for(150) == ("categorical", "conversation")
    assert options.kinds_for(4600) == () and options.kinds_for(-1) == ()
    generation = BuildConfig(emoset_root="emoset", split_turns=False, generation={"seed": 7}).generation_config("/c")
    assert (generation.split_turns, generation.seed, generation.cache_dir) == (False, 7, "/c")


def test_the_builder_config_carries_the_one_options_record(small_tree, tmp_path, monkeypatch):
    """Every stage reads the record the builder config carries: no copy of the options in between."""
    from builder.dataset.build import make_builder
    from builder.dataset.requests import asks_llm
    from builder.dataset.shard import ShardWorker

    options = BuildConfig(emoset_root=str(small_tree), config="categorical", sampling="all", verify_images=False,
                          embed_images=True, max_pixels=1234, shard_images=5)
    builder = make_builder(options, cache_dir=tmp_path / "cache", hf_cache_dir=tmp_path / "hf")
    assert builder.config.options is options and builder.options is options and builder.config.name == "categorical"
    worker = builder.worker()
    assert isinstance(worker, ShardWorker) and worker.options is options
    assert worker.source.verify_images is False and worker.source.max_pixels == 1234
    assert worker.cache_dir == str(tmp_path / "cache")
    monkeypatch.setattr(BuildConfig, "kinds_for", lambda self, index: ("reasoning",))
    from builder.dataset.plan import plan_splits

    plans = plan_splits(worker.source, ("val",), tmp_path / "plan", shard_size=5, class_positions=False)
    assert asks_llm(worker, plans["val"].shards[0])  # read from the record, patched above
    standalone = type(builder)(data_dir=str(small_tree), config_name="reasoning", cache_dir=str(tmp_path / "hf2"))
    assert standalone.options == BuildConfig(emoset_root=str(small_tree), config="reasoning")
    with pytest.raises(ValueError, match="the options are for config 'categorical', the builder's is 'all'"):
        type(builder)(options=options, config_name="all", cache_dir=str(tmp_path / "hf3"))


def test_refuses_to_overwrite_a_directory_that_is_not_a_build(small_tree_template, tmp_path):
    from schemas.errors import UsageError

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not a build directory"):
        build_dataset(BuildConfig(emoset_root=str(small_tree_template)), tmp_path / "out",
                      cache_dir=tmp_path / "cache", progress=False, plots=False)
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"


def test_parallel_generation_gives_the_same_dataset(build, small_tree_template, tmp_path):
    options = dict(config="all", sampling="all", splits=("train",), shard_images=5)
    serial = build(small_tree_template, tmp_path / "serial", tmp_path / "cache", **options)
    from builder.dataset.build import BuildConfig, build_dataset

    parallel = build_dataset(BuildConfig(emoset_root=str(small_tree_template), **options), tmp_path / "parallel",
                             cache_dir=tmp_path / "cache", progress=False, plots=False, num_proc=2)
    assert serial["splits"]["train"]["content_hash"] == parallel["splits"]["train"]["content_hash"]
    assert parallel["splits"]["train"]["balanced"] is True


def test_images_by_path_or_embedded(build, small_tree_template, tmp_path):
    build(small_tree_template, tmp_path / "paths", tmp_path / "cache", config="categorical", splits=("val",))
    build(small_tree_template, tmp_path / "bytes", tmp_path / "cache", config="categorical", splits=("val",),
          embed_images=True)
    by_path = datasets.load_from_disk(str(tmp_path / "paths"))["val"].cast_column("image", datasets.Image(decode=False))
    embedded = datasets.load_from_disk(str(tmp_path / "bytes"))["val"].cast_column("image", datasets.Image(decode=False))
    first_path, first_bytes = by_path[0]["image"], embedded[0]["image"]
    assert first_path["bytes"] is None and first_path["path"].startswith(str(small_tree_template.resolve()))
    assert first_bytes["bytes"] == open(first_path["path"], "rb").read()
    assert first_bytes["path"] == first_path["path"].rsplit("/", 1)[-1]


def test_the_builder_stands_alone_and_accounts_for_every_source_entry(small_tree, tmp_path, monkeypatch):
    """Plain ``datasets`` use, no ``emovit build``: every split entry ends as a row or a quarantine line."""
    from builder.dataset.builder import LOG_DIR, EmoVITInstructions

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf")
    monkeypatch.setenv("EMOVIT_CACHE", str(tmp_path / "emovit-cache"))
    train = json.loads((small_tree / "train.json").read_text())
    (small_tree / train[0][1]).unlink()                      # missing image
    train.append(train[1])                                   # duplicate id
    train.append(["awe", "sub/dir", train[2][1], train[2][2]])  # invalid id
    train.append("not an entry")                             # malformed
    (small_tree / "train.json").write_text(json.dumps(train))

    builder = EmoVITInstructions(options=BuildConfig(emoset_root=str(small_tree), config="categorical", shard_images=5))
    builder.download_and_prepare(num_proc=2)
    built = builder.as_dataset()
    tallies = builder.tallies()
    for split in ("train", "val", "test"):
        entries = json.loads((small_tree / f"{split}.json").read_text())
        rows = len(set(built[split]["image_id"]))
        lines = list(builder.quarantine(split))
        assert rows + len(lines) == len(entries), split
        assert tallies[split]["entries"] == tallies[split]["entries_planned"] == len(entries)
        assert tallies[split]["images_kept"] == rows and tallies[split]["source_quarantined"] == len(lines)
    codes = sorted((line["code"], line["id"]) for line in builder.quarantine("train"))
    assert codes == sorted([("missing_image", Path(train[0][2]).stem), ("duplicate_id", Path(train[1][2]).stem),
                            ("invalid_id", "sub/dir"), ("malformed_entry", f"train#{len(train) - 1}")])
    log = Path(builder.cache_dir) / LOG_DIR
    assert list(log.glob("train.shard-*.quarantine.jsonl")) and not list((log / "plan").iterdir())  # plans consumed
    assert not (tmp_path / "emovit-cache").exists()  # nothing needed caching offline


def test_report_figures_equal_a_row_by_row_count(built_all):
    """The plots' numbers come from Arrow aggregations; recount them from plain rows."""
    from builder.dataset.report import answer_lengths, attribute_counts

    out, report = built_all
    built = datasets.load_from_disk(str(out))
    words: dict[str, list[int]] = {}
    images: dict[str, dict] = {}
    for dataset in built.values():
        for row in dataset:
            words.setdefault(row["kind"], []).extend(
                len(t["value"].split()) for t in row["conversations"] if t["from"] == "gpt")
            images.setdefault(row["image_id"], {"emotion": EMOTIONS[row["emotion"]], **row["attributes"]})
    counted = {k: {n: int(c) for n, c in enumerate(v) if c} for k, v in answer_lengths(built).items()}
    assert counted == {k: dict(Counter(v)) for k, v in words.items()}
    emotions, counts = attribute_counts(built)
    assert emotions == list(EMOTIONS)
    for key in ("brightness", "colorfulness"):
        expected: dict[str, Counter] = {}
        for image in images.values():
            expected.setdefault(image["emotion"], Counter())[round(image[key], 1)] += 1
        assert {e: dict(c) for e, c in expected.items()} == counts[key]
    for split, dataset in built.items():
        per = Counter((row["kind"], EMOTIONS[row["emotion"]]) for row in dataset)
        assert {k: {e: n for (kk, e), n in per.items() if kk == k} for k in {k for k, _ in per}} == \
            report["splits"][split]["samples_per_kind_emotion"]

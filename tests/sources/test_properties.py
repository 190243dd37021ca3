"""Property-based: whatever an annotation, ``info.json``, split file, caption file or curation file holds, the
readers end every entry in the records or the quarantine (the counts reconcile), or stop with one
:class:`~schemas.errors.UsageError`; never a hang, never another exception. In-process for speed; a few
command-line runs check the "one line on stderr, exit 2" form. ``pytest --hypothesis-profile long`` runs
2,000 examples per property."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.sources.emoset import EmoSetSource
from builder.sources.synth import SynthConfig, synthesise
from schemas.errors import UsageError
from schemas.vocab import EMOTIONS

#: Text with the characters hostile trees like: NUL, RTL marks, line separators, lone surrogates.
ODD_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()) | st.sampled_from(
    ["\x00", "\u202e", "\u2028", "\ud800", "/", ".", "\\", " "]), max_size=12) | st.sampled_from(["..", "../x", "/"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.sampled_from([10 ** 400, -(10 ** 30)])
           | st.floats(allow_nan=True, allow_infinity=True) | ODD_TEXT | st.sampled_from(EMOTIONS))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(ODD_TEXT | st.sampled_from(["emotion", "object", "scene"]), inner,
                                             max_size=4), max_leaves=12)
DEEP = st.sampled_from(["[" * 100_000, "[" * 50_000 + "]" * 50_000, '{"a": ' * 30_000 + "1" + "}" * 30_000])


def as_file_bytes(value) -> bytes:
    """A JSON value as a file (NaN and infinities as Python writes them), or raw text/bytes as they are."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.startswith(("[[[", '{"a": {')):
        return value.encode()
    return json.dumps(value).encode()


FILE_CONTENTS = JSON_VALUES.map(as_file_bytes) | DEEP.map(str.encode) | st.binary(max_size=64)


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("props") / "emoset"
    synthesise(root, SynthConfig(per_class=1, seed=3, splits=("train",), image_size=8), progress=False)
    return root


@pytest.fixture
def tree(tiny_tree, tmp_path) -> Path:
    root = tmp_path / "emoset"
    shutil.copytree(tiny_tree, root, symlinks=True)
    return root


def reconcile(root: Path, entries: int | None = None) -> dict[str, tuple[int, int]]:
    """Read ``root``; per split ``(kept, quarantined)``, the train split's checked against ``entries`` (the
    number of entries its split file lists, when known)."""
    source = EmoSetSource(root)
    counts: dict[str, list[int]] = {}
    for batch in source.read_all():
        count = counts.setdefault(batch.split, [0, 0])
        count[0] += len(batch.records)
        count[1] += len(batch.quarantined)
        assert all(q.code and q.reason for q in batch.quarantined)
        assert all(q.to_json().count("\n") == 0 for q in batch.quarantined)  # one strict JSON line each
    if entries is not None:
        assert sum(counts.get("train", (0, 0))) == entries
    return {split: tuple(count) for split, count in counts.items()}


@given(content=FILE_CONTENTS | st.fixed_dictionaries(
    {"emotion": st.sampled_from(EMOTIONS)},
    optional={"brightness": SCALARS, "colorfulness": SCALARS, "scene": SCALARS, "object": JSON_VALUES,
              "facial_expression": SCALARS, "human_action": SCALARS}).map(as_file_bytes))
def test_any_annotation_is_a_record_or_a_quarantine_line(tree, content):
    rows = json.loads((tree / "train.json").read_text())
    annotation = tree / rows[0][2]
    original = annotation.read_bytes()
    annotation.write_bytes(content)
    try:
        counts = reconcile(tree)
        assert sum(counts["train"]) == len(rows) and counts["train"][0] >= len(rows) - 1
    finally:
        annotation.write_bytes(original)


@given(content=FILE_CONTENTS)
def test_any_info_json_gives_a_vocabulary_or_one_usage_error(tree, content):
    info = tree / "info.json"
    original = info.read_bytes()
    info.write_bytes(content)
    try:
        reconcile(tree)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(info) in str(exc)
    finally:
        info.write_bytes(original)


ENTRIES = st.lists(st.one_of(
    st.tuples(st.sampled_from(EMOTIONS) | ODD_TEXT, ODD_TEXT | st.sampled_from(["image/x.jpg", "/etc/passwd"]),
              ODD_TEXT | st.sampled_from(["annotation/x.json", "../../x.json"])).map(list),
    st.tuples(st.sampled_from(EMOTIONS), ODD_TEXT, ODD_TEXT, ODD_TEXT).map(list),
    JSON_VALUES), max_size=6)


@given(extra=ENTRIES, raw=st.none() | FILE_CONTENTS)
def test_any_split_file_reconciles_or_is_one_usage_error(tree, extra, raw):
    split = tree / "train.json"
    original = split.read_bytes()
    entries = json.loads(original) + extra
    split.write_bytes(raw if raw is not None else json.dumps(entries).encode())
    try:
        reconcile(tree, None if raw is not None else len(entries))
    except UsageError as exc:
        assert "\n" not in str(exc)
    finally:
        split.write_bytes(original)


@given(content=st.lists(JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False)) | ODD_TEXT, max_size=6)
       .map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")) | st.binary(max_size=64),
       suffix=st.sampled_from([".jsonl", ".csv", ".txt"]))
def test_any_caption_file_gives_captions_or_one_usage_error(tmp_path_factory, content, suffix):
    from builder.captions.file import read_caption_file

    path = tmp_path_factory.mktemp("captions") / f"captions{suffix}"
    path.write_bytes(content)
    try:
        captions = read_caption_file(path)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert all(key == key.strip() and " ".join(value.split()) == value for key, value in captions.items())


@given(content=FILE_CONTENTS | st.fixed_dictionaries(
    {"format": st.just("emovit-curation/1")},
    optional={"exclude": JSON_VALUES, "relabel": JSON_VALUES | st.lists(st.fixed_dictionaries(
        {"id": ODD_TEXT, "emotion": st.sampled_from(EMOTIONS) | ODD_TEXT}), max_size=3)}).map(as_file_bytes))
def test_any_curation_file_gives_decisions_or_one_usage_error(tmp_path_factory, content):
    from builder.dataset.curation_file import CurationDecisions

    path = tmp_path_factory.mktemp("curation") / "decisions.json"
    path.write_bytes(content)
    try:
        decisions = CurationDecisions.load(path, EMOTIONS)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert not set(decisions.exclude) & set(decisions.relabel)
    assert all(emotion in EMOTIONS for emotion, _ in decisions.relabel.values())


@settings(max_examples=4)  # each example is a fresh interpreter: a few, to check the command-line form
@given(name=st.sampled_from(["info.json", "train.json"]), content=FILE_CONTENTS)
def test_validate_on_the_command_line_exits_0_or_says_one_line(tree, name, content):
    target = tree / name
    original = target.read_bytes()
    target.write_bytes(content)
    try:
        result = subprocess.run([sys.executable, "-m", "builder.cli", "validate", "--emoset-root", str(tree),
                                 "--quiet"], check=False, capture_output=True, text=True, timeout=120)
    finally:
        target.write_bytes(original)
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr
    if result.returncode == 2:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("emovit validate: error: ")

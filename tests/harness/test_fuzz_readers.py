"""Property-based tests of every reader of foreign input: predictions lines and ``config.json``, lmms-eval logs,
VLMEvalKit tables and held-out label files, fed arbitrary bytes, text and JSON values as well as nearly valid
files. Whatever they hold, the command ends with rows and quarantine lines that reconcile, or with one
:class:`UsageError` line (exit 2 on the command line); never a traceback, never a file outside the output
folder, never a row whose label is not among its task's labels.

The default profile runs a few examples per property (seconds); ``pytest --hypothesis-profile long`` runs
thousands (README, "Reliability")."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.errors import UsageError
from tests.support.runs import LABELS

#: Names that would leave a folder, clash, or inject markup if used carelessly.
NAMES = st.one_of(st.sampled_from(["emovit", "../x", "/abs", "a/b", "..", "CON", "<script>", "model A", "model:A",
                                   "x" * 120, "a\nb", "=1+1", "lmms-lab/llava"]),
                  st.text(min_size=1, max_size=12))
#: Label spellings: the task's labels with other case and spaces, and strings that are no label.
SPELLINGS = st.one_of(st.sampled_from(LABELS).flatmap(lambda label: st.sampled_from(
    [label, label.upper(), f" {label} ", label.title()])), st.text(max_size=6))
ANSWERS = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(
    ["Predict emotion: awe", "anger or fear", "awe\u2028calm", "NA", "None", "B", "(C)", ""]))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=6)
GARBAGE = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                    JSON.map(lambda value: json.dumps(value).encode()))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def _one_line(exc: UsageError) -> None:
    assert "\n" not in str(exc) and "\r" not in str(exc)


def _nonblank(data: bytes) -> int:
    """Lines a JSON-lines reader must account for: split on \\n only, blank ones skipped."""
    text = data.decode("utf-8").removeprefix("\ufeff")
    return sum(1 for line in text.split("\n") if line.removesuffix("\r").strip())


# ------------------------------------------------------------------------------------------ predictions + config
RECORD = st.fixed_dictionaries({"id": st.one_of(st.integers(0, 30), st.text(max_size=4))}, optional={
    "gold": st.one_of(SPELLINGS, st.none(), st.integers()), "pred": st.one_of(SPELLINGS, st.none()), "raw": ANSWERS,
    "model": NAMES, "task": NAMES, "image_id": st.text(max_size=4),
    "scores": st.one_of(st.none(), st.dictionaries(st.sampled_from(LABELS), st.floats(-5, 0), min_size=1))})


@st.composite
def _nearly_valid_run(draw) -> tuple[bytes, bytes | None]:
    """A run that mostly passes: unique ids, labels in any spelling, hostile model and task names."""
    n = draw(st.integers(1, 10))
    model, task = draw(NAMES), draw(NAMES)
    lines = [{"id": f"s{i}", "model": model, "task": task, "gold": draw(SPELLINGS), "pred": draw(SPELLINGS | st.none()),
              "raw": draw(ANSWERS)} for i in range(n)]
    config = draw(st.one_of(st.none(), st.just({"task": {"name": task, "labels": list(LABELS)}}),
                            st.builds(lambda labels: {"task": {"labels": labels}}, st.lists(SPELLINGS, max_size=9))))
    text = "".join(json.dumps(line, ensure_ascii=draw(st.booleans())) + "\n" for line in lines)
    prefix = "\ufeff" if draw(st.booleans()) else ""
    return (prefix + text).encode(), None if config is None else json.dumps(config).encode()


@st.composite
def _any_run(draw) -> tuple[bytes, bytes | None]:
    lines = draw(st.lists(st.one_of(RECORD.map(lambda r: json.dumps(r, ensure_ascii=False).encode()), GARBAGE),
                          max_size=6))
    return b"\n".join(lines), draw(st.one_of(st.none(), GARBAGE))


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(_nearly_valid_run(), _any_run()))
def test_predictions_and_run_configs(run):
    from benchmarks.board.leaderboard import write_leaderboard
    from schemas.predictions import config_labels, label_key

    predictions, config = run
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        folder = root / "runs" / "m" / "t"
        folder.mkdir(parents=True)
        (folder / "predictions.jsonl").write_bytes(predictions)
        if config is not None:
            (folder / "config.json").write_bytes(config)
        before = _files(root)
        try:
            rows = write_leaderboard([root / "runs"], root / "board", plots=False, warn=lambda _: None)
        except UsageError as exc:
            _one_line(exc)
            rows = None
        assert all(p.is_relative_to(root / "board") for p in _files(root) - before)
        if rows is None:
            return
        assert sum(row["n"] for row in rows) == _nonblank(predictions)  # every line is a row's sample
        try:
            declared = config_labels(json.loads(config)) if config else None
        except ValueError:
            declared = None
        for row in rows:
            assert set(row["per_class"]) <= set(row["labels"]) and row["confusion"]["labels"] == row["labels"]
            if declared:
                assert {label_key(x) for x in row["labels"]} == {label_key(x) for x in declared}
                assert row["labels"] == list(declared)


# ------------------------------------------------------------------------------------------ lmms-eval logs
SAMPLE = st.fixed_dictionaries({"doc_id": st.one_of(st.integers(0, 20), st.text(max_size=3), JSON)}, optional={
    "target": st.one_of(SPELLINGS, st.none(), st.integers(), st.lists(SPELLINGS, max_size=2)),
    "filtered_resps": st.one_of(ANSWERS, st.lists(ANSWERS, max_size=2), JSON), "doc": JSON})


def _check_import(root: Path, out: Path, before: set[Path]) -> None:
    """Every file written is in ``out``; each run's counts reconcile with its files; labels are the task's."""
    assert all(p.is_relative_to(out) for p in _files(root) - before)
    for config_path in out.rglob("config.json"):
        config = json.loads(config_path.read_text())
        counts = config["imported"]
        lines = [json.loads(line) for line in config_path.with_name("predictions.jsonl").read_text().split("\n") if line]
        quarantine = config_path.with_name("quarantine.jsonl")
        held = len(quarantine.read_text().split("\n")) - 1 if quarantine.exists() else 0
        assert (counts["written"], counts["quarantined"]) == (len(lines), held)
        assert counts["samples"] == counts["written"] + counts["quarantined"]
        labels = config["task"]["labels"]
        assert all(line["gold"] in labels and (line["pred"] is None or line["pred"] in labels) for line in lines)


def _json_or_text(line: bytes):
    try:
        return json.loads(line)
    except ValueError:
        return line.decode("latin-1")


@given(st.one_of(st.lists(SAMPLE.map(lambda r: json.dumps(r, ensure_ascii=False).encode()), max_size=5),
                 st.lists(GARBAGE, max_size=3)),
       st.one_of(st.none(), GARBAGE), st.one_of(st.none(), NAMES), st.booleans())
def test_lmms_eval_logs(lines, results, task_name, old_layout):
    from benchmarks.interop.importing import import_runs

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        logs = root / "logs" / "org__model"
        logs.mkdir(parents=True)
        if old_layout:
            records = [_json_or_text(line) for line in lines]
            document = {"args": {"model_args": "pretrained=/home/me/ckpt"}, "logs": records}
            if task_name is not None:
                document["model_configs"] = {"task": task_name}
            (logs / "task.json").write_text(json.dumps(document))
        else:
            (logs / "20250101_000000_samples_emoset8.jsonl").write_bytes(b"\n".join(lines))
            if results is not None:
                (logs / "20250101_000000_results.json").write_bytes(results)
        before = _files(root)
        try:
            import_runs("lmms-eval", [root / "logs"], root / "out", log=lambda _: None, warn=lambda _: None)
        except UsageError as exc:
            _one_line(exc)
        _check_import(root, root / "out", before)


# ------------------------------------------------------------------------------------------ VLMEvalKit tables
CELL = st.one_of(st.none(), st.integers(-3, 99999), st.text(max_size=8), SPELLINGS,
                 st.sampled_from(["A", "B", "C", "NA", "None", "00005", "=1+1", "nan"]))


@st.composite
def _table(draw) -> pd.DataFrame:
    columns = draw(st.lists(st.sampled_from(["index", "prediction", "answer", "image_id", "A", "B", "C", "question",
                                             "category"]), unique=True, max_size=9))
    columns = list(dict.fromkeys(["index", "prediction", *columns])) if draw(st.booleans()) else columns
    rows = draw(st.integers(0, 5))
    return pd.DataFrame({c: [draw(CELL) for _ in range(rows)] for c in columns}, columns=columns)


@given(st.one_of(_table(), GARBAGE), st.sampled_from([".tsv", ".json", ".xlsx"]), st.one_of(st.none(), NAMES))
def test_vlmevalkit_tables(table, suffix, model):
    from benchmarks.interop.importing import import_runs

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        path = root / "outputs" / "MyVLM" / f"MyVLM_EmoSet8{suffix}"
        path.parent.mkdir(parents=True)
        if isinstance(table, bytes):
            path.write_bytes(table)
        elif suffix == ".tsv":
            table.to_csv(path, sep="\t", index=False, quoting=csv.QUOTE_ALL)
        elif suffix == ".json":
            path.write_text(json.dumps(table.to_dict("records"), default=str))
        else:
            with pd.ExcelWriter(path, engine="xlsxwriter",
                                engine_kwargs={"options": {"strings_to_formulas": False}}) as writer:
                table.to_excel(writer, index=False)
        before = _files(root)
        try:
            import_runs("vlmevalkit", [root / "outputs"], root / "out", model=model, log=lambda _: None,
                        warn=lambda _: None)
        except UsageError as exc:
            _one_line(exc)
        _check_import(root, root / "out", before)


# ------------------------------------------------------------------------------------------ held-out label files
LABEL_FILES = {"emotion6": "ground_truth.txt", "abstract": "ABSTRACT_groundTruth.csv",
               "twitter1": "twitter_five_agrees.txt", "webemo": "test25.txt"}
LINE_PARTS = st.one_of(st.text(max_size=12), st.sampled_from(
    ["anger/1.jpg", "anger/./1.jpg", "../x.jpg", "/etc/passwd", "1.jpg", "abstract_0001.jpg", "'abstract_0001.jpg'",
     "http://x/1.jpg", "http://[::1", "\t", "0", "1", "24", "99999999999999999999999", ",", " ", "\x00", "\u2028"]))


@given(st.sampled_from(sorted(LABEL_FILES)), st.lists(st.lists(LINE_PARTS, max_size=10).map("".join), max_size=6),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans())
def test_heldout_label_files(dataset, lines, newline, header):
    from builder.sources.heldout import HeldoutRootError, read_heldout
    from schemas.heldout import LABELS as VOCABULARY
    from tests.support.images import write_jpeg

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / dataset
        images = {"emotion6": "images/anger", "abstract": ".", "twitter1": "Agg_AMT_Candidates", "webemo": "images"}
        write_jpeg(root / images[dataset] / ("abstract_0001.jpg" if dataset == "abstract" else "1.jpg"), seed=1)
        first = {"emotion6": "[image_filename]\t[valence]\t[arousal]\t" + "\t".join(
                     f"[prob. {n}]" for n in ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")),
                 "abstract": "'','Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'"}.get(dataset)
        text = newline.join(([first] if header and first else []) + lines)
        (root / LABEL_FILES[dataset]).write_text(text, encoding="utf-8")
        try:
            read = read_heldout(dataset, root)
        except (HeldoutRootError, UsageError) as exc:
            _one_line(exc)
            return
        assert read.rows + len(read.quarantined) == read.entries and read.summary()["balanced"]
        assert set(read.table["label"]) <= set(VOCABULARY[dataset])
        for image in read.table["image"]:
            assert Path(image).resolve().is_relative_to(root.resolve())
        assert len(set(read.table["id"])) == read.rows


# ------------------------------------------------------------------------------------------ the command line
def _emovit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "import sys; from builder.cli import main; sys.exit(main())", *args]
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120, env=environment, check=False)


@settings(max_examples=3)
@given(st.binary(min_size=1, max_size=64).filter(lambda data: b"\n" not in data and data.strip()))
def test_the_command_says_one_line_and_exits_2(data):
    """Unusable input through the real console entry point: exit 2, one line on stderr, no traceback."""
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        run = root / "runs" / "m" / "t"
        run.mkdir(parents=True)
        (run / "predictions.jsonl").write_bytes(b'{"id": 1, "gold": "awe", "pred": "awe"}\n' + data + b"\x00{\n")
        logs = root / "logs" / "m"
        logs.mkdir(parents=True)
        (logs / "20250101_000000_samples_t.jsonl").write_bytes(b"\xff" + data)
        xlsx = root / "outputs" / "m" / "m_t.xlsx"
        xlsx.parent.mkdir(parents=True)
        xlsx.write_bytes(b"PK\x03\x04" + data)
        for args in (["bench", "leaderboard", "--runs", str(root / "runs"), "--out", str(root / "board")],
                     ["bench", "import", "--from", "lmms-eval", str(logs), "--out", str(root / "imported")],
                     ["bench", "import", "--from", "vlmevalkit", str(xlsx), "--out", str(root / "imported")]):
            done = _emovit(*args, cwd=root)
            assert done.returncode == 2, done.stderr
            assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
        assert sorted(p.name for p in root.iterdir()) == ["logs", "outputs", "runs"]


def test_a_stray_csv_field_limit_or_nul_is_a_quarantined_line_not_a_crash():
    """The csv module raises on a field above its size limit: one Abstract line, not the whole read."""
    from builder.sources.heldout import read_heldout
    from tests.support.images import write_jpeg

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        write_jpeg(root / "abstract_0001.jpg", seed=1)
        huge = "'" + "x" * (csv.field_size_limit() + 10)
        buffer = io.StringIO()
        buffer.write("'','Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'\n")
        buffer.write(f"{huge}\n'abstract_0001.jpg',0,1,0,0,2,0,2,9\n")
        (root / "ABSTRACT_groundTruth.csv").write_text(buffer.getvalue())
        read = read_heldout("abstract", root)
        assert list(read.table["label"]) == ["sadness"]
        assert [(q.id, q.code) for q in read.quarantined] == [("ABSTRACT_groundTruth.csv:2", "malformed_line")]


# ------------------------------------------------------------------------------------------ task data and judges
EMOTION6 = ["anger", "disgust", "fear", "joy", "sadness", "surprise"]
IMAGE_IDS = st.one_of(st.sampled_from(["i0", "i1", "i2", "i3"]), st.integers(0, 3), st.text(max_size=3), JSON)
NUMBERS = st.one_of(st.integers(-3, 10 ** 30), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                    st.none(), st.booleans())
TASK_DATA = st.fixed_dictionaries({"image_id": IMAGE_IDS}, optional={
    "votes": st.one_of(st.dictionaries(st.one_of(st.sampled_from(EMOTION6 + ["neutral", "Joy", " fear "]),
                                                 st.text(max_size=4)), NUMBERS, max_size=7), JSON),
    "valence": NUMBERS, "arousal": NUMBERS,
    "attributes": st.one_of(st.fixed_dictionaries({}, optional={
        "scene": st.one_of(st.text(max_size=4), JSON), "objects": st.one_of(st.lists(st.text(max_size=3)), JSON),
        "facial_expression": JSON, "human_action": JSON, "brightness": NUMBERS, "colorfulness": NUMBERS}), JSON)})
VERDICT = st.fixed_dictionaries({"id": IMAGE_IDS}, optional={
    "judge": st.one_of(NAMES, JSON), "verdict": st.one_of(st.sampled_from(["consistent", "inconsistent"]), JSON)})


def _lines_of(records) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from([("emotion6", EMOTION6), ("emoset8", list(LABELS))]),
       st.one_of(st.lists(TASK_DATA, max_size=5).map(_lines_of), GARBAGE),
       st.one_of(st.none(), st.lists(VERDICT, max_size=6).map(_lines_of), GARBAGE))
def test_task_data_and_judge_verdicts_beside_a_run(task, sample_data, verdicts):
    """Whatever a run folder's ``sample_data.jsonl`` and ``judge.jsonl`` hold (votes, valence, EmoSet attributes,
    verdicts of any shape), the leaderboard writes its rows and sections or stops with one line."""
    from benchmarks.board.leaderboard import write_leaderboard

    name, labels = task
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        folder = root / "runs" / "m" / name
        folder.mkdir(parents=True)
        scores = {label: -float(k) for k, label in enumerate(labels)}
        (folder / "predictions.jsonl").write_bytes(_lines_of(
            {"id": f"i{k}", "image_id": f"i{k}", "model": "m", "task": name, "gold": labels[k % len(labels)],
             "pred": labels[0], "raw": labels[0], "scores": scores} for k in range(4)))
        (folder / "sample_data.jsonl").write_bytes(sample_data)
        if verdicts is not None:
            (folder / "judge.jsonl").write_bytes(verdicts)
        try:
            rows = write_leaderboard([root / "runs"], root / "board", plots=False, warn=lambda _: None)
        except UsageError as exc:
            _one_line(exc)
            return
        (row,) = rows
        assert row["n"] == 4 and row["accuracy"] == 0.25
        document = json.loads((root / "board" / "leaderboard_tasks.json").read_text(encoding="utf-8"))
        assert set(document["tasks"]) == {name}

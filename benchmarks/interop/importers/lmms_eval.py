"""lmms-eval's per-sample logs (``--log_samples``), in the two layouts its releases write.

* **>= 0.3** (the evaluation tracker): ``<output_path>/<model_name_sanitized>/<YYYYMMDD_HHMMSS>_samples_<task>.jsonl``,
  one JSON object per document: ``doc_id``, ``target`` (a string), ``filtered_resps`` (a one-item list up to
  0.4, the bare string in later releases), ``resps`` (left out when equal to ``filtered_resps``), ``input``,
  ``doc_hash`` and one key per metric. Beside it ``<date>_results.json`` (``results``, ``configs``,
  ``config.model_args``, ``n-samples``, ``model_name`` ...) names the model.
* **<= 0.2.3**: ``<output_path>/<date>_<suffix>_<model>_model_args_<hash>/<task>.json``, one object with
  ``args`` (the command line: ``model``, ``model_args`` ...), ``model_configs`` (the task config) and ``logs``
  (the same per-document records, sorted by ``doc_id``, ``doc`` kept, ``target`` as the task gave it).

``id`` is ``doc_id``; the gold answer is ``target``; the answer text is the filtered response. A document
without a response (``filtered_resps`` missing, null or empty) keeps an empty answer: it counts as a parse
failure, never as a guessed label. The metric keys (lmms-eval's own scoring) are not read.

When the task read its documents from a local parquet file with an ``id`` column (the task config lmms-eval
records names it: ``dataset_path: parquet``, ``dataset_kwargs.data_files``), as the task
``emovit bench export --to lmms-eval`` writes does, document ``doc_id`` is that file's row ``doc_id`` and takes
its ``id`` and ``image_id``: imported runs then pair with our own runs of the task, sample by sample.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmarks.interop.foreign import ForeignRun, ForeignSample
from schemas.errors import UsageError
from schemas.jsonlines import BadLine, parse_lines, read_text

TOOL = "lmms-eval"
#: ``<YYYYMMDD_HHMMSS>_samples_<task>.jsonl`` (lmms-eval >= 0.3)
SAMPLES = re.compile(r"^(?P<date>\d{8}_\d{6})_samples_(?P<task>.+)\.jsonl$")


def _model_from_args(model_args) -> str | None:
    """The checkpoint named in lmms-eval's ``--model_args`` (``pretrained=org/model,conv_template=...``)."""
    if isinstance(model_args, dict):
        model_args = ",".join(f"{k}={v}" for k, v in model_args.items())
    if not isinstance(model_args, str):
        return None
    for key in ("pretrained", "model", "model_version", "model_name", "model_id", "path", "engine"):
        found = re.search(rf"(?:^|,)\s*{key}=([^,]+)", model_args)
        if found:
            return found.group(1).strip()
    return None


def _answer(value) -> str | None:
    """The answer text of ``filtered_resps``: a string, or a list holding one; ``""`` when there is none;
    ``None`` when it is not text (a log-likelihood task's ``[score, is_greedy]`` pairs)."""
    if value is None:
        return ""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, list) and not value:
        return ""
    return value if isinstance(value, str) else None


def _doc_id(value, where: str) -> str:
    """A ``doc_id`` as text: an integer (lmms-eval writes the document's position) or a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    raise UsageError(f"{where}: doc_id {str(value)[:40]!r} is neither an integer nor a string")


def _sample(record, where: str) -> ForeignSample:
    if not isinstance(record, dict) or "doc_id" not in record:
        raise UsageError(f"{where}: not an lmms-eval sample record (no doc_id)")
    doc_id = _doc_id(record["doc_id"], where)
    raw = _answer(record.get("filtered_resps"))
    if raw is None:
        raise UsageError(f"{where}: filtered_resps is not a generated answer ({str(record['filtered_resps'])[:80]!r}); "
                         "only generate_until tasks can be re-scored from text")
    target = record.get("target")
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    gold = None if target is None else str(target)
    doc = record.get("doc") if isinstance(record.get("doc"), dict) else {}
    image_id = doc.get("image_id") if isinstance(doc.get("image_id"), str) else None
    return ForeignSample(doc_id, gold, raw, where, image_id=image_id)


def _exported_ids(task_config: dict) -> tuple[list[str], list[str], str] | None:
    """``(ids, image ids, file)`` of the documents, when the task read them from a local parquet file that
    has ``id`` and ``image_id`` columns; else ``None``."""
    if not isinstance(task_config, dict) or task_config.get("dataset_path") != "parquet":
        return None
    kwargs = task_config.get("dataset_kwargs")
    files = kwargs.get("data_files") if isinstance(kwargs, dict) else None
    split = task_config.get("test_split")
    if isinstance(files, dict):
        files = files.get(split if isinstance(split, str) else "test")
    if isinstance(files, list) and len(files) == 1:
        files = files[0]
    if not isinstance(files, str) or not files.endswith(".parquet") or not Path(files).is_file():
        return None
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(files, columns=["id", "image_id"])
    except Exception:  # noqa: BLE001 - a file a foreign log names: anything unreadable just does not pair
        return None
    return [str(x) for x in table.column("id").to_pylist()], [str(x) for x in table.column("image_id").to_pylist()], files


def _with_exported_ids(samples: list[ForeignSample], task_config) -> tuple[list[ForeignSample], str | None]:
    found = _exported_ids(task_config)
    if found is None:
        return samples, None
    ids, image_ids, files = found
    if not all(s.id.isascii() and s.id.isdigit() and int(s.id) < len(ids) for s in samples):
        return samples, None
    return [ForeignSample(ids[int(s.id)], s.gold, s.raw, s.where, image_id=image_ids[int(s.id)], letter=s.letter)
            for s in samples], files


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not readable JSON ({type(exc).__name__}: {str(exc)[:120]})") from None


def read_samples_file(path: Path, *, model: str | None = None) -> ForeignRun:
    """A ``<date>_samples_<task>.jsonl`` file (lmms-eval >= 0.3) and its ``<date>_results.json``."""
    match = SAMPLES.match(path.name)
    if match is None:
        raise UsageError(f"{path}: not an lmms-eval samples file (<YYYYMMDD_HHMMSS>_samples_<task>.jsonl)")
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    samples = []
    for number, record in parse_lines(text):
        if isinstance(record, BadLine):
            raise UsageError(f"{path}:{number}: not valid JSON ({record.message})")
        samples.append(_sample(record, f"{path}:{number}"))
    results_path = path.with_name(f"{match['date']}_results.json")
    results = _read_json(results_path) if results_path.is_file() else {}
    if not isinstance(results, dict):
        raise UsageError(f"{results_path}: an lmms-eval results file is a JSON object, not a {type(results).__name__}")
    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    name = (model or (results.get("model_name") if isinstance(results.get("model_name"), str) else None)
            or _model_from_args(config.get("model_args")) or path.parent.name.replace("__", "/"))
    task = match["task"]
    n_samples = (results.get("n-samples") or {}).get(task) if isinstance(results.get("n-samples"), dict) else None
    task_config = (results.get("configs") or {}).get(task) if isinstance(results.get("configs"), dict) else None
    samples, ids_from = _with_exported_ids(samples, task_config)
    details = {"layout": ">=0.3 samples jsonl", "date": match["date"], "model_args": config.get("model_args"),
               "lmms_eval_model": config.get("model"), "n_samples": n_samples,
               "git_hash": results.get("git_hash"), "ids_from": ids_from}
    files = [path, results_path] if results_path.is_file() else [path]
    return ForeignRun(TOOL, name, task, samples, files, {k: v for k, v in details.items() if v is not None})


def read_logs_file(path: Path, document: dict, *, model: str | None = None) -> ForeignRun:
    """A ``<task>.json`` file of lmms-eval <= 0.2.3: ``args``, ``model_configs`` and ``logs``."""
    args = document.get("args") if isinstance(document.get("args"), dict) else {}
    task_config = document.get("model_configs") if isinstance(document.get("model_configs"), dict) else {}
    logs = document.get("logs")
    if not isinstance(logs, list):
        raise UsageError(f"{path}: 'logs' is not a list of sample records")
    samples = [_sample(record, f"{path}: logs[{i}]") for i, record in enumerate(logs)]
    samples, ids_from = _with_exported_ids(samples, task_config)
    stated = args.get("model") if isinstance(args.get("model"), str) and args.get("model") else None
    name = model or _model_from_args(args.get("model_args")) or stated or path.parent.name
    task = task_config.get("task") if isinstance(task_config.get("task"), str) and task_config["task"] else path.stem
    details = {"layout": "<=0.2.3 task json", "date": document.get("time"), "model_args": args.get("model_args"),
               "lmms_eval_model": args.get("model"), "ids_from": ids_from}
    return ForeignRun(TOOL, str(name), task, samples, [path], {k: v for k, v in details.items() if v is not None})


def _candidates(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.rglob("*_samples_*.jsonl") if SAMPLES.match(p.name))
            found += sorted(p for p in path.rglob("*.json") if not p.name.endswith("results.json"))
        else:
            raise UsageError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def read(paths: list[Path], *, model: str | None = None, task: str | None = None, note=print) -> list[ForeignRun]:
    """Every lmms-eval run under ``paths``: samples files (>= 0.3) and task files with ``logs`` (<= 0.2.3).

    A folder is searched recursively; ``.json`` files without ``logs`` are passed over there with a ``note``
    (``*results.json`` silently: they are the runs' summaries), but a file given by name must be one of the
    two layouts. ``task`` (``--task``) files the runs later; lmms-eval's file names carry their task.
    """
    runs = []
    given = {p for p in paths if p.is_file()}
    for path in _candidates(paths):
        if path.suffix == ".jsonl":
            runs.append(read_samples_file(path, model=model))
            continue
        try:
            document = _read_json(path) if path.suffix == ".json" else None
        except UsageError as exc:
            if path in given:
                raise
            note(f"skipped: {exc}")
            continue
        if isinstance(document, dict) and "logs" in document:
            runs.append(read_logs_file(path, document, model=model))
        elif path in given:
            raise UsageError(f"{path}: neither an lmms-eval samples file (<date>_samples_<task>.jsonl) nor a "
                             "task log (<task>.json with 'logs')")
        else:
            note(f"skipped: {path}: no 'logs' (not an lmms-eval task log)")
    return runs


__all__ = ["SAMPLES", "TOOL", "read", "read_logs_file", "read_samples_file"]

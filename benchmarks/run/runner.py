"""``emovit bench run``: models x tasks (x training settings), each (model, task) in its own run directory.

For every model entry the runner finds its checkpoint (a path, a Hub id, ``zoo:<kind>``), training it first
when the entry asks (:func:`emovit_model.train.train`, the code behind ``emovit train``; a finished training
run with the same options is reused), loads it once through its adapter and scores every task:

    OUT/runs/<model>/<task>/    config.json, predictions.jsonl, metrics.json, run_log.jsonl (and
                                sample_data.jsonl: the task's per-image data, :mod:`benchmarks.data.sample_data`)
    OUT/_train/<model>/         the training run (run_config.json, metrics.json, adapter/)
    OUT/_zoo/<kind>/, OUT/_data/ tiny checkpoints and synthetic data of the "tiny" size

The leaderboard over them (``OUT/leaderboard/``) is not the runner's to write: ``emovit bench run`` and the
demo rebuild it from ``OUT/runs`` once the runs are done (:func:`benchmarks.cli.run_and_rank`). What a run needs
first (processes, checkpoints, data) is :mod:`benchmarks.run.prepare`.

Runs are cached and resumable per sample (:mod:`benchmarks.run.store`): a finished run with the same key is not
loaded again, and a killed one scores only what it had not written.

**Several GPUs.** Launch the same command with ``accelerate launch`` (no code change)::

    accelerate launch --num-processes 4 -m benchmarks run --config main data.build=BUILD out=runs/main
    torchrun --nproc-per-node 2 -m benchmarks run ...      # also works on CPU (gloo), as the tests do

Each process takes every N-th pending sample on its own GPU and writes its own shard; the main process merges
the shards into ``predictions.jsonl`` in sample order and computes the figures. Training entries train with
the Trainer's own data parallelism. Device and dtype are automatic: CUDA with bf16 when the GPU supports it,
fp32 on CPU (``device=``/``dtype=`` override).
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.data.samples import Sample, rooted_tasks, task_samples
from benchmarks.run.prepare import Processes, prepare_data, processes, resolve_reference
from benchmarks.run.store import METRICS, RunStore
from benchmarks.spec.config import BenchConfig, generation_budget, judge_settings
from benchmarks.spec.task import Task, ordered_tasks
from schemas.errors import UsageError

#: Bumped when the harness changes how it scores (part of every run key).
HARNESS_VERSION = 1


@dataclass
class BenchResult:
    """What a run produced: its output folder, the run directories and the notes it printed; ``is_main`` and
    ``wait`` are this process's place among the launched processes (a leaderboard is written by the main
    process only, the others ``wait`` for it)."""

    out: Path
    runs: list[Path]
    log: list[str] = field(default_factory=list)
    is_main: bool = True
    wait: object = field(default=lambda: None)


# ------------------------------------------------------------------------------------------ models
def _train_config(entry: dict, adapter, config: BenchConfig, base: str, data: dict, workdir: Path):
    import dataclasses

    from emovit_model.train import TrainConfig

    options = {**adapter.train_defaults, **entry["train"]}
    dataset = options.pop("dataset", None) or data["build"]
    if not dataset:
        raise UsageError(f"model {entry['name']}: training needs train.dataset or data.build / data.synth")
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"dataset", "base", "out"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"model {entry['name']}: unknown training option(s) {', '.join(unknown)}")
    for name in ("kinds", "adam_betas", "lora_targets"):
        if isinstance(options.get(name), list):
            options[name] = tuple(options[name])
    options.setdefault("progress", config.progress)
    return TrainConfig(dataset=str(dataset), base=str(base), out=str(workdir), **options)


def _trained_already(train_config, workdir: Path) -> bool:
    from schemas.runinfo import to_jsonable

    saved = workdir / "run_config.json"
    if not (workdir / "adapter" / "adapter_config.json").is_file() or not saved.is_file():
        return False
    previous = json.loads(saved.read_text(encoding="utf-8")).get("config", {})
    current = to_jsonable(train_config)
    ignore = {"progress"}
    return {k: v for k, v in previous.items() if k not in ignore} == {k: v for k, v in current.items()
                                                                        if k not in ignore}


def resolve_model(entry: dict, config: BenchConfig, out: Path, data: dict, procs: Processes,
                  log) -> tuple[str, dict | None]:
    """The reference to load for a model entry, training it first when it asks; and the training summary."""
    from benchmarks.adapters import ADAPTERS
    from schemas.runinfo import to_jsonable

    adapter = ADAPTERS.load(entry["adapter"])
    workdir = out / "_train" / entry["name"]
    reference = adapter.prepare(entry, workdir)
    if reference:
        return resolve_reference(reference, out, procs), None
    if entry.get("train") is None:
        if adapter.trainable:
            raise UsageError(f"model {entry['name']}: adapter {adapter.name} needs 'path' (a trained adapter), "
                             "'train' (train it here) or, for emovit, 'lavis' (an original checkpoint)")
        return resolve_reference(adapter.checkpoint, out, procs), None
    if not adapter.trainable:
        raise UsageError(f"model {entry['name']}: adapter {adapter.name} is zero-shot; remove 'train'")
    base = resolve_reference(entry.get("base") or adapter.checkpoint, out, procs)
    train_config = _train_config(entry, adapter, config, base, data, workdir)
    if _trained_already(train_config, workdir):
        log(f"{entry['name']}: training cached ({workdir / 'adapter'})")
    else:
        from emovit_model.train import train

        if procs.is_main and workdir.exists():
            shutil.rmtree(workdir)  # another configuration trained here before: start clean
        procs.wait()
        log(f"{entry['name']}: training {adapter.name} on {train_config.dataset} "
            f"(kinds {','.join(train_config.kinds)}, fraction {train_config.train_fraction}, seed {train_config.seed})")
        train(train_config)
    metrics = json.loads((workdir / "metrics.json").read_text(encoding="utf-8")) \
        if (workdir / "metrics.json").is_file() else None
    return str(workdir / "adapter"), {"config": to_jsonable(train_config), "out": str(workdir), "metrics": metrics}


# ------------------------------------------------------------------------------------------ scoring
def _record(sample: Sample, model: str, task: Task, pred, raw, scores) -> dict:
    record = {"id": sample.id, "image_id": sample.image_id, "model": model, "task": task.name, "gold": sample.gold,
              "pred": pred, "raw": raw, "scores": scores}
    if sample.variant is not None:
        record["variant"] = sample.variant
    return record


def score_samples(classifier, samples: list[Sample], *, model: str, task: Task, mode: str, batch_size: int,
                  append, progress: bool = True, max_new_tokens: int | None = None) -> int:
    """Score ``samples`` batch by batch, appending each batch's records durably; returns how many. Generated
    answers take at most ``max_new_tokens`` (default: the task's)."""
    from tqdm.auto import tqdm

    classifier = classifier.with_options(labels=task.labels, answer_template=task.answer, batch_size=batch_size)
    with tqdm(total=len(samples), desc=f"{model}/{task.name}", unit="sample", disable=not progress) as bar:
        for start in range(0, len(samples), batch_size):
            batch = samples[start:start + batch_size]
            images = [s.image for s in batch]
            instructions = [s.instruction if s.instruction is not None else classifier.instruction for s in batch]
            if mode == "rank":
                records = []
                for sample, scores in zip(batch, classifier.score(images, instructions)):
                    best = max(scores, key=scores.get)
                    records.append(_record(sample, model, task, best, None, scores))
            else:
                answers = classifier.generate(images, instructions=instructions,
                                              max_new_tokens=max_new_tokens or task.max_new_tokens)
                records = [_record(s, model, task, a.label, a.text, None) for s, a in zip(batch, answers)]
            append(records)
            bar.update(len(batch))
    return len(samples)


def derive_records(task: Task, base_rows: list[dict]) -> list[dict]:
    """A derived task's records from its base task's (labels mapped; rank scores: best score per label).

    A base label the map sends to null has no counterpart: rows with that gold label are left out, and a
    prediction of it becomes the best-scoring mapped label when there are scores (else it stays unreadable)."""
    records = []
    for row in base_rows:
        unmapped = [label for label in (row["gold"], row["pred"]) if label is not None and label not in task.map]
        if unmapped:
            raise UsageError(f"task {task.name}: label {unmapped[0]!r} of {task.derive_from} is not in its map")
        if task.map[row["gold"]] is None:
            continue
        scores = None
        if row["scores"] is not None:
            scores = {label: max(v for k, v in row["scores"].items() if task.map.get(k) == label)
                      for label in task.labels if any(task.map.get(k) == label for k in row["scores"])}
        pred = None if row["pred"] is None else task.map[row["pred"]]
        if pred is None and row["pred"] is not None and scores:
            pred = max(scores, key=scores.get)
        record = {"id": row["id"], "image_id": row["image_id"], "model": row["model"], "task": task.name,
                  "gold": task.map[row["gold"]], "pred": pred, "raw": row["raw"], "scores": scores}
        if row.get("variant") is not None:
            record["variant"] = row["variant"]
        records.append(record)
    return records


def _finish(store: RunStore, order: list[str], task: Task, config: BenchConfig) -> list[dict]:
    """Merge the shards, validate every line, write ``metrics.json`` (main process)."""
    from benchmarks.score.figures import RunRecord, run_figures
    from schemas.predictions import read_predictions
    from schemas.runinfo import write_json

    rows = store.merge(order)
    checked = read_predictions(store.predictions, task.labels)
    if checked.rejected:
        raise RuntimeError(f"{store.predictions}: {len(checked.rejected)} line(s) break the predictions schema: "
                           + " | ".join(list(checked.rejected.values())[:3]))
    run_config = json.loads((store.directory / "config.json").read_text(encoding="utf-8"))
    record = RunRecord(rows[0]["model"], task.name, rows, store.predictions, run_config)
    write_json(store.directory / METRICS, {"run_key": store.run_key, **run_figures(record, seed=config.seed)})
    return rows


def _sample_data(tasks: list[Task], prepared: dict, data: dict) -> dict[str, list[dict]]:
    """Per task, the per-image data its run folders carry (:mod:`benchmarks.data.sample_data`) for the images
    it scores; tasks whose data ships none are left out."""
    from benchmarks.data.sample_data import task_sample_data

    found = {}
    for task in tasks:
        if task.name in prepared:
            records = task_sample_data(task, data, {s.image_id for s in prepared[task.name][0]})
            if records:
                found[task.name] = records
    return found


def _dtype_name(dtype: str, device) -> str:
    from emovit_model.model import resolve_dtype

    return str(resolve_dtype(dtype, device)).replace("torch.", "")


def run_bench(config: BenchConfig, *, log=print) -> BenchResult:
    """Run every model on every task of ``config``; returns the run directories (the leaderboard over them is
    the caller's to write: ``emovit bench run`` and the demo do, :func:`benchmarks.cli.run_and_rank`)."""
    from benchmarks.adapters import ADAPTERS
    from benchmarks.data.sample_data import write_sample_data
    from benchmarks.run.provenance import git_commit, versions
    from schemas.jsonlines import parse_lines, read_text
    from schemas.runinfo import fingerprint

    procs = processes(config.device)
    out = Path(config.out)
    if procs.is_main:
        out.mkdir(parents=True, exist_ok=True)
    procs.wait()
    say = log if procs.is_main else (lambda *_: None)
    messages: list[str] = []

    def note(text: str) -> None:
        messages.append(text)
        say(text)

    progress = config.progress and procs.is_main
    data = prepare_data(config, out, procs)
    tasks = rooted_tasks(ordered_tasks(config.tasks), data, note)
    prepared = {task.name: task_samples(task, data) for task in tasks if task.source != "derived"}
    per_image = _sample_data(tasks, prepared, data) if procs.is_main else {}
    leaks = {}
    if config.leakage or config.exclude_leaked:
        from benchmarks.data.leakage import apply_leakage

        leaks = apply_leakage(config, data, tasks, prepared, out, note)
    dtype = _dtype_name(config.dtype, procs.device)
    common = {"bench": {"name": config.name, "source": config.source, "size": config.size, "out": str(out)},
              "versions": versions(), "git_commit": git_commit(), "device": str(procs.device), "dtype": dtype,
              "world_size": procs.world, "batch_size": config.batch_size}
    run_dirs: list[Path] = []
    for entry in config.models:
        adapter = ADAPTERS.load(entry["adapter"])
        reference, training = resolve_model(entry, config, out, data, procs, note)
        identity = adapter.identity(reference, entry)
        model_doc = {**entry, "reference": reference, "identity": identity,
                     "series": entry.get("series") or adapter.name}
        plans, keys = [], {}
        for task in tasks:
            if task.source == "derived":
                continue
            samples, dataset = prepared[task.name]
            mode = task.mode or entry.get("mode") or config.mode
            budget = {"max_new_tokens": entry["max_new_tokens"]} \
                if mode == "generate" and entry.get("max_new_tokens") else {}  # answers change with it
            key = fingerprint({"task": task.hash, "adapter": adapter.name, "identity": identity, "mode": mode,
                               "options": adapter.key_options(entry.get("options") or {}),
                               "data": dataset["fingerprint"], "dtype": dtype,
                               "harness": HARNESS_VERSION, **budget})
            keys[task.name] = key
            store = RunStore(out / "runs" / entry["name"] / task.name, key)
            document = {**common, "model": {**model_doc, "mode": mode}, "training": training,
                        "task": task.describe(), "task_hash": task.hash, "mode": mode, "dataset": dataset,
                        "samples": len(samples), **({"leakage": leaks[task.name]} if task.name in leaks else {})}
            plans.append((task, mode, samples, store, document))
        classifier = None
        for task, mode, samples, store, document in plans:
            order = [s.id for s in samples]
            run_dirs.append(store.directory)
            complete = store.complete(order)
            procs.wait()  # every process has read the directory before the main process touches it
            if complete:
                note(f"{entry['name']}/{task.name}: cached ({len(order)} samples, {store.directory})")
                if procs.is_main:
                    write_sample_data(store.directory, per_image.get(task.name))
                continue
            if procs.is_main:
                carried = adapter.carried_usage(store.directory, store.run_key)  # API cost of earlier sessions
                stale = store.open({**document, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
                if stale:
                    note(f"{entry['name']}/{task.name}: the task file, model or data changed (run key {stale} -> "
                         f"{store.run_key}); earlier predictions set aside, scoring from scratch")
            procs.wait()
            done = store.done_ids()
            pending = [s for s in samples if s.id not in done]
            note(f"{entry['name']}/{task.name}: {len(samples)} samples, {len(samples) - len(pending)} already "
                 f"scored, scoring {len(pending)} ({mode}, batch {config.batch_size}, {procs.device}, {dtype})")
            if pending and classifier is None:
                classifier = adapter.load(reference, device=procs.device, dtype=config.dtype,
                                          options=entry.get("options"), entry=entry, workdir=out)
            mine = pending[procs.rank::procs.world]
            if mine:
                before = classifier.usage()
                try:
                    score_samples(classifier, mine, model=entry["name"], task=task, mode=mode,
                                  batch_size=config.batch_size, append=store.appender(procs.rank), progress=progress,
                                  max_new_tokens=generation_budget(entry, task))
                finally:  # an API model's cost is recorded even when the run stops (paid is paid)
                    if procs.is_main:
                        adapter.record_usage(store.directory, carried, before, classifier.usage())
            procs.wait()
            if procs.is_main:
                rows = _finish(store, order, task, config)
                write_sample_data(store.directory, per_image.get(task.name))
                store.log_session({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "already": len(samples) - len(pending),
                                   "scored": len(pending), "world_size": procs.world})
                if task.rows == "reasoning" and judge_settings(config):
                    from benchmarks.run.judge import judge_reasoning

                    questions = {s.id: s.instruction or "" for s in samples}
                    judge_reasoning(rows, questions, judge_settings(config), out / "_cache" / "judge.sqlite",
                                    store.directory / "judge.jsonl", progress=progress)
            procs.wait()
        for task in tasks:
            if task.source != "derived":
                continue
            base_store = RunStore(out / "runs" / entry["name"] / task.derive_from, keys[task.derive_from])
            key = fingerprint({"task": task.hash, "base": keys[task.derive_from], "harness": HARNESS_VERSION})
            store = RunStore(out / "runs" / entry["name"] / task.name, key)
            run_dirs.append(store.directory)
            if procs.is_main:
                base_rows = [row for _, row in parse_lines(read_text(base_store.predictions))]
                records = derive_records(task, base_rows)
                order = [r["id"] for r in records]
                if store.complete(order):
                    note(f"{entry['name']}/{task.name}: cached (derived from {task.derive_from})")
                else:
                    store.open({**common, "model": {**model_doc, "mode": None}, "training": training,
                                "task": task.describe(), "task_hash": task.hash, "derived_from": {
                                    "task": task.derive_from, "run_key": keys[task.derive_from],
                                    "left_out": len(base_rows) - len(records)},
                                "samples": len(records), "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                **({"leakage": leaks[task.derive_from]} if task.derive_from in leaks else {})})
                    store.appender(0)(records)
                    _finish(store, order, task, config)
                    store.log_session({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "already": 0,
                                       "scored": len(records), "world_size": procs.world})
                    note(f"{entry['name']}/{task.name}: derived from {task.derive_from} ({len(records)} samples)")
                write_sample_data(store.directory, per_image.get(task.derive_from))
            procs.wait()
        if classifier is not None:
            del classifier
            gc.collect()
            _empty_cuda_cache()
    procs.wait()
    return BenchResult(out, sorted(set(run_dirs)), messages, procs.is_main, procs.wait)


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["HARNESS_VERSION", "BenchResult", "derive_records", "run_bench", "score_samples"]

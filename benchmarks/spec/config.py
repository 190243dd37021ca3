"""Run configs of ``emovit bench run``: YAML files (``benchmarks/configs/*.yaml`` or any path), ``key=value``
overrides and size profiles.

A config names the models, the tasks and the data::

    name: main
    out: runs/bench/main            # run directories, training runs, leaderboard
    data:
      build: BUILD                  # an 'emovit build' output (emoset8/emoset2/sensitivity/reasoning)
      folder: DIR                   # <root>/<class>/*.jpg (the folder task)
      roots: {emotion6: DIR}        # held-out datasets as unpacked, by task or dataset name (heldout tasks)
      variants: {twitter1: 4}       # a dataset variant other than the task's default
    tasks: [emoset8, emoset2]       # packaged task names or task-file paths
    mode: rank                      # rank | generate (a model entry or a task may say otherwise)
    batch_size: 8                   # images per forward pass (results do not depend on it)
    models:                         # an entry may set max_new_tokens (generate mode; default: the task's)
      - name: emovit                # results are filed under this name
        adapter: emovit             # see benchmarks.adapters
        base: Salesforce/instructblip-vicuna-7b
        train: {kinds: [categorical], epochs: 4, train_fraction: 1.0, seed: 42}
      - {name: llava, adapter: llava, path: llava-hf/llava-1.5-7b-hf}

**Overrides** (``key=value`` after ``--config``) set any key by its dotted path; values are YAML
(``tasks=[emoset8]``, ``batch_size=16``); list entries with a ``name`` are addressed by it
(``models.emovit.path=runs/emovit/adapter``). ``size=tiny`` applies the config's ``sizes.tiny`` profile
(deep-merged, models by name) before the other overrides, so the command line always wins.

**References** in ``path``/``base``: a local folder, a Hub id, or ``zoo:<kind>`` (a tiny random checkpoint
written under ``OUT/_zoo``). **Relative paths in a config file** (``path``, ``base``, ``lavis``,
``train.dataset``, ``data.build``, ``data.folder``, ``data.roots.*``, ``leakage.build`` and task-file paths)
are read relative to the file's folder when they name something there, so a config works from any working
directory; anything else (a Hub id, a path that only exists from the working directory) is kept as given.
``out`` and every ``key=value`` override are relative to the working directory. Data: ``data.synth: {per_class, seed}`` makes a synthetic build under
``OUT/_data``; ``data.folder_synth: {paint: {class: emotion}, per_class, seed}`` a synthetic image folder;
``data.heldout_synth: {per_class, seed}`` a tree in every held-out layout, used where no root is given.

**Held-out tasks** read ``data.roots.<task>`` (or ``data.roots.<dataset>``); ``data.skip_missing: true``
skips, with a note, those whose root is not given; ``data.verify_images`` (default true) has PIL verify every
image first. ``limit: N`` scores a seeded (``seed``), stratified subset of N images per held-out task.
``leakage: {build, threshold}`` checks each held-out task for near-duplicates of the build's training images
(:mod:`benchmarks.data.leakage`) and records the count in every run's ``config.json``; ``exclude_leaked: true``
also drops them from scoring (the reference build defaults to ``data.build``).

**Judges** of the reasoning task (:mod:`benchmarks.run.judge`): ``judge: {model: gpt-4o-mini}`` names one,
``judge: [{name: a, model: gpt-4o}, {name: b, model: gpt-4o-mini, base_url: ...}]`` several (names default to the
model and must be unique); :func:`judge_settings` gives the list either way. Each entry may also set the chat
client's ``base_url``, ``api_key_env``, ``max_in_flight``, ``max_retries``, ``timeout_s``, ``temperature``
(default 0), ``max_connection_failures``, ``backoff_base_s`` and ``backoff_max_s``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.spec.packaged import packaged, read_mapping
from schemas.errors import UsageError

MODES = ("rank", "generate")
_TOP = {"name", "description", "out", "data", "tasks", "mode", "batch_size", "device", "dtype", "models", "sizes",
        "size", "seed", "judge", "progress", "leaderboard", "limit", "leakage", "exclude_leaked"}
_MODEL = {"name", "adapter", "path", "base", "lavis", "train", "mode", "options", "series", "base_url",
          "max_new_tokens"}
_DATA = {"build", "split", "folder", "synth", "folder_synth", "roots", "variants", "heldout_synth", "skip_missing",
         "verify_images"}
_LEAKAGE = {"build", "threshold"}
#: What a judge entry may set: its model, its name, and how its requests are sent (:mod:`benchmarks.run.judge`).
JUDGE_CLIENT_KEYS = ("base_url", "api_key_env", "max_in_flight", "max_retries", "timeout_s", "temperature",
                     "max_connection_failures", "backoff_base_s", "backoff_max_s")
JUDGE_KEYS = ("name", "model", *JUDGE_CLIENT_KEYS)


@dataclass
class BenchConfig:
    """A resolved run config (what ``config.json`` of every run records, with the run's specifics)."""

    name: str
    out: str
    models: list[dict]
    tasks: list[str]
    data: dict = field(default_factory=dict)
    mode: str = "rank"
    batch_size: int = 8
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0
    judge: dict | list = field(default_factory=dict)  # one judge, or a list of judges: see judge_settings
    progress: bool = True
    leaderboard: bool = True
    description: str = ""
    size: str | None = None
    source: str = ""
    limit: int | None = None
    leakage: dict = field(default_factory=dict)
    exclude_leaked: bool = False

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def packaged_configs() -> dict[str, str]:
    """``{name: file name}`` of the run configs shipped with the package."""
    return packaged("configs")


def read_config_document(reference: str | Path) -> tuple[dict, str]:
    """The YAML mapping of a config path or packaged config name, and where it came from."""
    document, where, _ = read_mapping(reference, "configs", "config", "a run config is a mapping")
    return document, where


def parse_override(text: str) -> tuple[list[str], object]:
    """``"a.b=value"`` -> ``(["a", "b"], value parsed as YAML)``."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"override {text!r} is not key=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return [part for part in key.strip().split(".") if part], parsed


def _child(node, key: str, where: str, *, create: bool):
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and item.get("name") == key:
                return item
        raise UsageError(f"{where}: no entry named {key!r} (have {', '.join(str(i.get('name')) for i in node)})")
    if not isinstance(node, dict):
        raise UsageError(f"{where}: cannot set a key inside a {type(node).__name__}")
    if key not in node or node[key] is None:
        if not create:
            raise UsageError(f"{where}: no key {key!r}")
        node[key] = {}
    return node[key]


def apply_override(document: dict, path: list[str], value) -> None:
    """Set ``value`` at the dotted ``path`` of ``document`` (list entries addressed by their ``name``)."""
    node = document
    for depth, key in enumerate(path[:-1]):
        node = _child(node, key, ".".join(path[: depth + 1]), create=True)
    last = path[-1]
    if isinstance(node, list):
        raise UsageError(f"{'.'.join(path)}: name a field of the entry, e.g. {'.'.join(path)}.path=...")
    if not isinstance(node, dict):
        raise UsageError(f"{'.'.join(path)}: cannot set a key inside a {type(node).__name__}")
    node[last] = value


def merge_profile(document: dict, profile: dict) -> None:
    """Deep-merge a size profile into ``document``; ``models`` in a profile is ``{name: fields}``."""
    for key, value in profile.items():
        if key == "models":
            if not isinstance(value, dict):
                raise UsageError("a size profile's 'models' maps model names to fields")
            for name, fields in value.items():
                target = _child(document.get("models") or [], name, f"sizes: models.{name}", create=False)
                _merge(target, fields or {})
        elif isinstance(value, dict) and isinstance(document.get(key), dict):
            _merge(document[key], value)
        else:
            document[key] = copy.deepcopy(value)


def _merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _beside(value, folder: Path):
    """``value`` resolved against ``folder`` when it is a relative path naming something there; else as is."""
    if not isinstance(value, str) or not value or value.startswith("zoo:") or Path(value).is_absolute():
        return value
    candidate = folder / value
    try:
        return str(candidate) if candidate.exists() else value
    except (OSError, ValueError):
        return value


def resolve_file_paths(document: dict, folder: Path) -> None:
    """Read the input paths of a config file relative to the file's ``folder`` (see the module docstring)."""
    for entry in document.get("models") or []:
        if isinstance(entry, dict):
            for key in ("path", "base", "lavis"):
                if key in entry:
                    entry[key] = _beside(entry[key], folder)
            if isinstance(entry.get("train"), dict) and "dataset" in entry["train"]:
                entry["train"]["dataset"] = _beside(entry["train"]["dataset"], folder)
    data = document.get("data")
    if isinstance(data, dict):
        for key in ("build", "folder"):
            if key in data:
                data[key] = _beside(data[key], folder)
        if isinstance(data.get("roots"), dict):
            data["roots"] = {name: _beside(root, folder) for name, root in data["roots"].items()}
    if isinstance(document.get("leakage"), dict) and "build" in document["leakage"]:
        document["leakage"]["build"] = _beside(document["leakage"]["build"], folder)
    if isinstance(document.get("tasks"), list):
        document["tasks"] = [_beside(t, folder) if isinstance(t, str) and t.endswith((".yaml", ".yml")) else t
                             for t in document["tasks"]]


def load_config(reference: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> BenchConfig:
    """Read a config, apply its size profile (``size=...``) and the overrides, and validate it. Input paths
    in a config file are read relative to its folder (:func:`resolve_file_paths`)."""
    document, where = read_config_document(reference)
    document = copy.deepcopy(document)
    parsed = [parse_override(text) for text in overrides]
    size = next((value for path, value in parsed if path == ["size"]), document.get("size"))
    if size is not None:
        sizes = document.get("sizes") or {}
        if size not in sizes:
            raise UsageError(f"{where}: no size {size!r} (sizes: {', '.join(sizes) or 'none'})")
        merge_profile(document, sizes[size])
        document["size"] = size
    if Path(where).is_file() and str(reference) not in packaged_configs():  # a file of the user's
        resolve_file_paths(document, Path(where).parent)
    for path, value in parsed:
        if path != ["size"]:
            apply_override(document, path, value)
    document.pop("sizes", None)
    return validate(document, where)


def validate(document: dict, where: str) -> BenchConfig:
    """Check every field; one :class:`UsageError` lists all problems."""
    from benchmarks.adapters import ADAPTERS

    problems = []
    unknown = sorted(set(document) - _TOP)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}")
    models = document.get("models") or []
    if not isinstance(models, list) or not models:
        problems.append("'models' must be a non-empty list")
        models = []
    names = []
    for index, entry in enumerate(models):
        if not isinstance(entry, dict):
            problems.append(f"models[{index}] must be a mapping")
            continue
        label = entry.get("name", f"models[{index}]")
        names.append(entry.get("name"))
        extra = sorted(set(entry) - _MODEL)
        if extra:
            problems.append(f"model {label}: unknown key(s) {', '.join(extra)}")
        if not isinstance(entry.get("name"), str) or not entry["name"] or "/" in entry["name"] \
                or "\\" in entry["name"] or entry["name"] in (".", ".."):
            problems.append(f"{label}: 'name' must be a non-empty string without '/' (it names a folder)")
        if entry.get("adapter") not in ADAPTERS:
            problems.append(f"model {label}: 'adapter' must be one of {', '.join(ADAPTERS)}")
        if entry.get("mode") is not None and entry["mode"] not in MODES:
            problems.append(f"model {label}: 'mode' must be rank or generate")
        if entry.get("train") is not None and not isinstance(entry["train"], dict):
            problems.append(f"model {label}: 'train' must be a mapping of training options")
        if entry.get("options") is not None and not isinstance(entry["options"], dict):
            problems.append(f"model {label}: 'options' must be a mapping")
        budget = entry.get("max_new_tokens")
        if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
            problems.append(f"model {label}: 'max_new_tokens' must be a positive integer (tokens a generated answer "
                            "may take, reasoning included)")
    duplicates = sorted({n for n in names if names.count(n) > 1 and n})
    if duplicates:
        problems.append(f"model names must be unique: {', '.join(duplicates)}")
    tasks = document.get("tasks") or []
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) for t in tasks):
        problems.append("'tasks' must be a non-empty list of task names or task-file paths")
        tasks = []
    data = document.get("data") or {}
    if not isinstance(data, dict) or set(data) - _DATA:
        problems.append(f"'data' keys are {', '.join(sorted(_DATA))}")
        data = {}
    for key in ("roots", "variants"):
        if not isinstance(data.get(key) or {}, dict):
            problems.append(f"'data.{key}' maps task or dataset names to values")
    limit = document.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        problems.append("'limit' must be a positive integer (images per held-out task)")
    leakage = document.get("leakage") or {}
    if not isinstance(leakage, dict) or set(leakage) - _LEAKAGE:
        problems.append(f"'leakage' keys are {', '.join(sorted(_LEAKAGE))}")
        leakage = {}
    judge = document.get("judge") or {}
    judge_problems = _judge_problems(judge)
    if judge_problems:
        problems.extend(judge_problems)
        judge = {}
    mode = document.get("mode", "rank")
    if mode not in MODES:
        problems.append("'mode' must be rank or generate")
    batch_size = document.get("batch_size", 8)
    if not isinstance(batch_size, int) or batch_size < 1:
        problems.append("'batch_size' must be a positive integer")
    if not document.get("out"):
        problems.append("'out' (the output folder) is required: add out=DIR")
    if problems:
        raise UsageError(f"{where}: " + "; ".join(problems))
    return BenchConfig(
        name=str(document.get("name") or Path(where).stem), out=str(document["out"]), models=models,
        tasks=list(tasks), data=dict(data), mode=mode, batch_size=batch_size,
        device=str(document.get("device", "auto")), dtype=str(document.get("dtype", "auto")),
        seed=int(document.get("seed", 0)), judge=copy.deepcopy(judge), progress=bool(document.get("progress", True)),
        leaderboard=bool(document.get("leaderboard", True)), description=str(document.get("description", "")),
        size=document.get("size"), source=where, limit=limit, leakage=dict(leakage),
        exclude_leaked=bool(document.get("exclude_leaked", False)),
    )


def normalise_judges(value: dict | list | None) -> list[dict]:
    """The judges of a ``judge`` value, each a mapping with its ``name`` (default: its ``model``), in the order
    given: a single mapping is one judge (none when it names no ``model``), a list is one judge per entry."""
    if not value:
        return []
    entries = [value] if isinstance(value, dict) else list(value)
    return [{**entry, "name": entry.get("name") or entry["model"]} for entry in entries if entry.get("model")]


def judge_settings(config: BenchConfig) -> list[dict]:
    """The LLM judges of the reasoning task a run config names (:func:`normalise_judges` of ``config.judge``);
    an empty list when the judge is off."""
    return normalise_judges(config.judge)


def _judge_problems(judge) -> list[str]:
    """What is wrong with a ``judge`` value (one mapping, or a list of mappings each naming a ``model``)."""
    from builder.generation.config import GenerationConfig

    if isinstance(judge, dict):
        entries, labels = [judge], ["judge"]
    elif isinstance(judge, list):
        entries, labels = judge, [f"judge[{index}]" for index in range(len(judge))]
    else:
        return ["'judge' must be a mapping (one judge) or a list of mappings (several judges)"]
    problems, names = [], []
    for entry, label in zip(entries, labels):
        if not isinstance(entry, dict):
            problems.append(f"{label} must be a mapping with at least 'model'")
            continue
        extra = sorted(set(entry) - set(JUDGE_KEYS))
        if extra:
            problems.append(f"{label}: unknown key(s) {', '.join(map(str, extra))}; a judge's keys are "
                            f"{', '.join(JUDGE_KEYS)}")
        model, name = entry.get("model"), entry.get("name")
        if (model is not None or isinstance(judge, list)) and (not isinstance(model, str) or not model.strip()):
            problems.append(f"{label}.model must be the judge's model name (a non-empty string)")
            continue
        if name is not None and (not isinstance(name, str) or not name.strip()):
            problems.append(f"{label}.name must be a non-empty string (it names the judge in judge.jsonl)")
            continue
        if model is None:
            continue
        names.append(name or model)
        client = {key: entry[key] for key in JUDGE_CLIENT_KEYS if entry.get(key) is not None}
        try:
            GenerationConfig(**client)
        except (TypeError, ValueError) as exc:
            problems.append(f"{label}: {exc}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"judge names must be unique (a judge's name defaults to its model): {', '.join(duplicates)}")
    return problems


def generation_budget(entry: dict, task) -> int:
    """Tokens a generated answer of model ``entry`` may take on ``task``: the entry's ``max_new_tokens`` (thinking
    models need thousands), else the task's."""
    return entry.get("max_new_tokens") or task.max_new_tokens


__all__ = ["JUDGE_CLIENT_KEYS", "JUDGE_KEYS", "BenchConfig", "apply_override", "generation_budget", "judge_settings",
           "load_config", "normalise_judges", "packaged_configs", "parse_override", "read_config_document"]

"""``emovit bench publish``: a leaderboard as a Hugging Face results dataset, in the layout Hub leaderboards read.

From a folder written by ``bench leaderboard`` (its ``leaderboard.json`` and the ``predictions.jsonl`` files
its rows name), the dataset folder holds::

    README.md                                     dataset card: results table, configs for the details
    results/<org>/<model>/results_<timestamp>.json  {"config": {"model_name", "model_sha", "model_dtype"},
                                                   "results": {task: {metric: value}}, "emovit": provenance}
    details/<model>/<task>.parquet                one row per sample: id, image_id, gold, pred, raw,
                                                   correct, scores (JSON text), variant, and each sample's
                                                   share of the calibration figures (confidence, p_gold,
                                                   brier, nll; null without scores)
    leaderboard.json, leaderboard_tasks.json,     the board itself (the page opens from the Hub's file view)
    index.html, plots/
    space/                                        with --space: the page as a static Space (README.md with
                                                   ``sdk: static``; :mod:`benchmarks.board.space`)
    model_cards/<model>/README.md                 for models trained here: a model card whose model-index
                                                   holds their results (not uploaded with the dataset)

Model and task names are data: ``<org>/<model>`` is a Hub id that ``huggingface_hub``'s own validator accepts
(a name it refuses is filed under the results repo's org as :func:`schemas.names.safe_name` of it), and the
details and model-card folders are :func:`schemas.names.unique_names` of the names, so nothing is written
outside the folder and no two models share a file. Names in the cards are escaped as Markdown text. Nothing
published holds a path of this machine: the board names its predictions relative to the runs folder (their
local paths stay in the board's ``local_sources.json``, which is not published), checkpoints by Hub id or
content digest, and the folder is checked for this machine's paths (the home folder, the board's and the
runs' folders, the working directory) before anything is pushed.

Every figure of a row is one metric key of its task in ``results_*.json``: :data:`METRICS` and every other
number, true/false or null of the row (an interval as ``<figure>_ci_low`` and ``_ci_high``) except its
provenance (:data:`NOT_METRICS`); a figure that does not apply is ``null``, never 0.

``results_*.json`` follows the convention of the Hugging Face leaderboard template (and the Open LLM
Leaderboard's results repo): ``config.model_name`` is the model's Hub id (``org/model``), ``model_sha`` its
revision, ``model_dtype`` a torch dtype name, metric values in ``[0, 1]``. A model whose name has no
``org/`` is filed under the results repo's org (or ``--model-repo MODEL=ORG/NAME``); a checkpoint loaded
from the Hub keeps its Hub id, with revision ``main``; a local checkpoint's ``model_sha`` is its content
digest (``checkpoint_identity`` in the leaderboard row). The per-sample details are the predictions as the
leaderboard scored them (answers read again by our parser), and are checked against ``leaderboard.json``
before anything is written: a board whose predictions changed since it was built is refused.

Without ``--dry-run`` the folder is uploaded with ``HfApi.upload_folder`` and each model card's
``model-index`` is merged into the model repo's card (``huggingface_hub.metadata_update``; a repo without a
card gets the whole card). The token comes from ``HF_TOKEN`` or the login cache; it is never printed or
written, and is masked in error messages.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from schemas.errors import UsageError

#: Metrics of a leaderboard row published per task, in ``results_*.json`` order.
METRICS: tuple[str, ...] = ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "uar",
                            "parse_failure_rate", "n")
#: Row keys that say where a run comes from rather than measure it (kept under ``emovit.runs``).
NOT_METRICS = frozenset({"adapter", "bootstrap_seed", "checkpoint", "checkpoint_identity", "device", "dtype",
                         "git_commit", "imported_from", "leaked", "run_key", "series", "task_hash", "train_fraction",
                         "trained_here", "versions"})
#: Text files of the folder checked for local paths before anything is published.
TEXT_SUFFIXES = (".json", ".md", ".html", ".csv", ".yaml")


def check_repo(repo: str, shown: str | None = None) -> str:
    """``repo`` when it is an ``ORG/NAME`` id the Hub accepts (``huggingface_hub``'s ``validate_repo_id``);
    one :class:`UsageError` line starting with ``shown`` (default ``--repo REPO``) otherwise."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    shown = shown or f"--repo {repo}"
    if not isinstance(repo, str) or repo.count("/") != 1:
        raise UsageError(f"{shown}: expected ORG/NAME")
    try:
        validate_repo_id(repo)
    except HFValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
        raise UsageError(f"{shown}: not a repository id the Hub accepts ({first})") from None
    return repo


def read_board(board: str | Path) -> list[dict]:
    """The rows of ``board/leaderboard.json`` (one clear error when it is not a leaderboard folder)."""
    path = Path(board) / "leaderboard.json"
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not a leaderboard (run 'emovit bench leaderboard' first): {exc}") from None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and isinstance(r.get("model"), str)
                                                         and isinstance(r.get("task"), str) for r in rows):
        raise UsageError(f"{path}: expected a list of leaderboard rows")
    return rows


def _digest(identity) -> str | None:
    """A content digest (``model_sha``) from a row's ``checkpoint_identity``; anything else is ``None``."""
    return identity if isinstance(identity, str) and re.fullmatch(r"[0-9a-f]{8,64}", identity) else None


def model_id(row: dict, org: str, model_repos: dict[str, str]) -> tuple[str, str]:
    """``(model_name, model_sha)`` of a row as the results convention wants them (see the module docstring):
    always a repository id the Hub accepts."""
    from benchmarks.board.leaderboard import hub_id
    from schemas.names import safe_name

    model = row["model"]
    identity = row.get("checkpoint_identity")
    sha = _digest(identity) or "main"
    if model in model_repos:
        return model_repos[model], sha
    if "/" in model and hub_id(model):
        return model, "main"
    if isinstance(identity, str) and identity.startswith("hub:") and hub_id(identity[4:]):
        return identity[4:], "main"
    return f"{org}/{safe_name(model, max_length=96)}", sha


def _dtype(row: dict) -> str:
    dtype = row.get("dtype")
    return f"torch.{dtype}" if isinstance(dtype, str) and dtype and not dtype.startswith("torch.") else dtype or "Unknown"


def _metrics(row: dict) -> dict:
    """Every figure of a row as one metric key (see the module docstring)."""
    from benchmarks.board.leaderboard import flat_figures

    flat = flat_figures(row)
    rest = sorted(key for key, value in flat.items() if key not in METRICS and key not in NOT_METRICS
                  and (value is None or isinstance(value, (bool, int, float))))
    return {key: flat[key] for key in (*METRICS, *rest)}


def _provenance(row: dict) -> dict:
    keys = ("checkpoint", "checkpoint_identity", "task_hash", "versions", "git_commit", "device", "dtype", "mode",
            "imported_from", "leaked", "bootstrap_seed", "mcnemar")
    return {key: row.get(key) for key in keys}


def board_sources(board: str | Path, rows: list[dict]) -> dict[tuple[str, str], Path]:
    """The local predictions file of every (model, task) of the board, from its ``local_sources.json``."""
    from benchmarks.board.leaderboard import LOCAL_SOURCES

    path = Path(board) / LOCAL_SOURCES
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        runs = {(entry["model"], entry["task"]): Path(entry["path"]) for entry in document["runs"]}
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, KeyError, TypeError):
        raise UsageError(f"{path}: missing or unreadable (the board was written by an older emovit, or moved); "
                         "run 'emovit bench leaderboard' again where the predictions are") from None
    found = {}
    for row in rows:
        key = (row["model"], row["task"])
        if key not in runs or not runs[key].is_file():
            raise UsageError(f"{runs.get(key, path)}: the predictions of {key[0]} on {key[1]} are not there any "
                             "more; run 'emovit bench leaderboard' again where they are")
        found[key] = runs[key]
    return found


def details_rows(rows: list[dict], sources: dict[tuple[str, str], Path]) -> dict[tuple[str, str], list[dict]]:
    """Per-sample rows of every (model, task) of the board, as the leaderboard scored them, checked against
    the board's figures."""
    from benchmarks.board.runs import collect_runs
    from benchmarks.score.calibration import per_sample
    from benchmarks.score.figures import reparse

    wanted = {(row["model"], row["task"]): row for row in rows}
    found = {}
    for run in collect_runs(sorted(set(sources.values())), warn=lambda _: None):
        if (run.model, run.task) not in wanted:
            continue
        scored, _, _ = reparse(run)
        calibrated = per_sample(scored, run.labels)
        found[(run.model, run.task)] = [
            {"id": r["id"], "image_id": r["image_id"], "gold": r["gold"], "pred": r["pred"], "raw": r["raw"],
             "correct": r["pred"] is not None and r["pred"] == r["gold"],
             "scores": None if r["scores"] is None else json.dumps(r["scores"], sort_keys=True),
             "variant": r.get("variant"), **c} for r, c in zip(scored, calibrated)]
    for key, row in wanted.items():
        details = found.get(key)
        if details is None or len(details) != row["n"] or \
                not math.isclose(sum(d["correct"] for d in details) / len(details), row["accuracy"], abs_tol=1e-12):
            raise UsageError(f"{sources[key]}: predictions of {key[0]} on {key[1]} no longer match "
                             "leaderboard.json; run 'emovit bench leaderboard' again")
    return found


def _write_parquet(rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("image_id", pa.string()), ("gold", pa.string()), ("pred", pa.string()),
                        ("raw", pa.string()), ("correct", pa.bool_()), ("scores", pa.string()),
                        ("variant", pa.string()), ("confidence", pa.float64()), ("p_gold", pa.float64()),
                        ("brier", pa.float64()), ("nll", pa.float64())])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _trained_here(row: dict) -> bool:
    """Trained by the harness (its run records a training), or scored through an adapter that only holds
    weights trained with ``emovit train`` (EmoVIT, LLaVA-ft)."""
    if row.get("trained_here"):
        return True
    from benchmarks.adapters import ADAPTERS

    adapter = row.get("adapter")
    return isinstance(adapter, str) and adapter in ADAPTERS and ADAPTERS.load(adapter).trainable


def model_card(name: str, rows: list[dict], repo: str):
    """A model card whose ``model-index`` holds ``rows``' figures (one result per task)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    from benchmarks.board.escape import markdown_text as md

    source = f"https://huggingface.co/datasets/{repo}"
    results = []
    for row in rows:
        common = {"task_type": "image-classification", "task_name": "Emotion classification", "dataset_type": repo,
                  "dataset_name": row["task"], "dataset_config": row["task"], "dataset_split": "test",
                  "source_name": "emovit leaderboard",
                  "source_url": source}
        results += [EvalResult(metric_type="accuracy", metric_name="Accuracy", metric_value=row["accuracy"], **common),
                    EvalResult(metric_type="f1", metric_name="Macro-F1", metric_config="macro",
                               metric_value=row["macro_f1"], **common),
                    EvalResult(metric_type="recall", metric_name="UAR", metric_config="macro",
                               metric_value=row["uar"], **common)]
    data = ModelCardData(model_name=name, eval_results=results, tags=["emovit", "emotion-recognition"],
                         pipeline_tag="image-text-to-text", datasets=[repo])
    lines = [f"# {md(name)}", "", f"Emotion classification results from the emovit leaderboard ([{md(repo)}]({source})):", "",
             "| task | n | accuracy [95% CI] | macro-F1 | UAR | parse failures |", "|---|---|---|---|---|---|"]
    for row in rows:
        low, high = row["accuracy_ci"]
        lines.append(f"| {md(row['task'])} | {row['n']} | {row['accuracy']:.3f} [{low:.3f}, {high:.3f}] | "
                     f"{row['macro_f1']:.3f} | {row['uar']:.3f} | {row['parse_failure_rate']:.3f} |")
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")


def dataset_card(repo: str, rows: list[dict], details: dict[str, str]):
    """The results dataset's card: a table of every row and one config per details file."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from benchmarks.board.escape import markdown_text as md

    configs = [{"config_name": name, "data_files": [{"split": "latest", "path": path}]}
               for name, path in sorted(details.items())]
    data = DatasetCardData(pretty_name=f"{repo.split('/')[1]} (emovit leaderboard results)", configs=configs,
                           tags=["leaderboard", "evaluation", "emotion-recognition", "emovit"],
                           task_categories=["image-classification"])
    lines = [f"# Results: {md(repo)}", "",
             "Emotion classification results recomputed by `emovit bench leaderboard` from per-sample predictions "
             "(every answer read by the same parser). `results/<org>/<model>/results_<timestamp>.json` follow the "
             "Hub leaderboard convention; `details/<model>/<task>.parquet` hold every sample (load one with "
             "`datasets.load_dataset(\"" + repo + "\", \"<config>\")`); `index.html` is the board as a page.", ""]
    for task in dict.fromkeys(row["task"] for row in rows):
        lines += [f"## {md(task)}", "", "| # | model | n | accuracy [95% CI] | macro-F1 | UAR | parse failures | mode |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in (r for r in rows if r["task"] == task):
            low, high = row["accuracy_ci"]
            lines.append(f"| {'–' if row.get('rank') is None else row['rank']} | {md(row['model'])} | {row['n']} | {row['accuracy']:.3f} "
                         f"[{low:.3f}, {high:.3f}] | {row['macro_f1']:.3f} | {row['uar']:.3f} | "
                         f"{row['parse_failure_rate']:.3f} | {md(row.get('mode', ''))} |")
        lines.append("")
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))


def _folder_texts(rows: list[dict]) -> tuple[dict[str, str], dict[str, str]]:
    """The folder names of the board's models and tasks (:func:`schemas.names.unique_names`; a model that is a
    Hub id ``org/name`` reads ``org__name``)."""
    from schemas.names import org_name_text, unique_names

    models = dict.fromkeys(row["model"] for row in rows)
    tasks = dict.fromkeys(row["task"] for row in rows)
    model_names = unique_names({m: org_name_text(m) for m in models})
    return model_names, unique_names({t: t for t in tasks})


def local_paths(board: Path, sources) -> list[str]:
    """Paths of this machine that must not appear in anything published: the home folder, the working
    directory, the board's folder and the folders above each predictions file (two levels at least deep)."""
    found = {str(Path.home())} if Path.home().parent != Path.home() else set()
    places = [Path.cwd(), board.resolve(), board.absolute(), *(Path(os.path.abspath(p)) for p in sources),
              *(Path(p).resolve() for p in sources)]
    for place in places:
        for folder in (place, *place.parents):
            if len(folder.parts) > 2:
                found.add(str(folder))
    return sorted(found, key=len, reverse=True)


def check_no_local_paths(folder: Path, paths: list[str]) -> None:
    """Refuse (one line) when a text file of ``folder`` holds one of ``paths``."""
    patterns = [(place, re.compile(rf"(?<![\w.\-/]){re.escape(place)}(?![\w.\-])")) for place in paths]
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.suffix not in TEXT_SUFFIXES:
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        variants = (text, text.replace("\\/", "/"))  # JSON may escape slashes
        for place, pattern in patterns:
            if any(pattern.search(t) for t in variants):
                raise UsageError(f"{file.relative_to(folder)} would publish the local path {place}; refusing (a "
                                 "board written by an older emovit: run 'emovit bench leaderboard' again)")


def build_folder(board: str | Path, repo: str, out: str | Path, *, model_repos: dict[str, str] | None = None,
                 timestamp: str | None = None, space: str | None = None) -> dict:
    """Write the results dataset folder for ``board`` into ``out`` (a new or empty folder), and with ``space``
    the static Space's folder into ``out/space``; returns a summary: ``{"results": [paths], "details": [paths],
    "model_cards": {model: (hub id, path)}, "space": (space id, path) or None}``."""
    from benchmarks.board.folders import inside, writing
    from benchmarks.board.leaderboard import TASKS_FILE
    from schemas.names import unique_names
    from schemas.runinfo import write_json

    check_repo(repo)
    org = repo.split("/")[0]
    model_repos = dict(model_repos or {})
    board = Path(board)
    rows = read_board(board)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not an empty folder")
    sources = board_sources(board, rows)
    details = details_rows(rows, sources)
    stamp = timestamp or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S.%f")
    summary: dict = {"results": [], "details": [], "model_cards": {}, "space": None}
    by_model: dict[str, list[dict]] = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    model_names, task_names = _folder_texts(rows)
    config_names = unique_names({(row["model"], row["task"]): f"details_{model_names[row['model']]}_"
                                 f"{task_names[row['task']]}" for row in rows}, max_length=160)
    hub_names: dict[str, tuple[str, str]] = {}
    for model, group in by_model.items():
        known = {key: next((r[key] for r in group if r.get(key)), None) for key in ("checkpoint_identity", "dtype")}
        hub_names[model] = model_id({"model": model, **known}, org, model_repos)
    taken: dict[str, str] = {}
    for model, (name, _) in hub_names.items():
        other = taken.setdefault(name.casefold(), model)
        if other != model:
            raise UsageError(f"models {other!r} and {model!r} would both be published as {name}; give one of them "
                             "its own repository with --model-repo MODEL=ORG/NAME")
    configs: dict[str, str] = {}
    with writing("the results folder", out):
        out.mkdir(parents=True, exist_ok=True)
        for model, group in by_model.items():
            name, sha = hub_names[model]
            known = {"dtype": next((r["dtype"] for r in group if r.get("dtype")), None)}
            document = {"config": {"model_name": name, "model_sha": sha, "model_dtype": _dtype(known)},
                        "results": {row["task"]: _metrics(row) for row in group},
                        "emovit": {"leaderboard_model": model,
                                   "runs": {row["task"]: _provenance(row) for row in group}}}
            path = inside(out, "results", *name.split("/", 1), f"results_{stamp}.json")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, document)
            summary["results"].append(path)
            for row in group:
                folder, file = model_names[model], task_names[row["task"]]
                relative = f"details/{folder}/{file}.parquet"
                _write_parquet(details[(model, row["task"])], inside(out, "details", folder, f"{file}.parquet"))
                configs[config_names[(model, row["task"])]] = relative
                summary["details"].append(out / relative)
            if any(_trained_here(row) for row in group):
                card_path = inside(out, "model_cards", model_names[model], "README.md")
                card_path.parent.mkdir(parents=True, exist_ok=True)
                model_card(name, group, repo).save(str(card_path))
                summary["model_cards"][model] = (name, card_path)
        dataset_card(repo, rows, configs).save(str(out / "README.md"))
        shutil.copyfile(board / "leaderboard.json", out / "leaderboard.json")
        for name in (TASKS_FILE, "index.html"):
            if (board / name).is_file():
                shutil.copyfile(board / name, out / name)
        if (board / "plots").is_dir():
            shutil.copytree(board / "plots", out / "plots")
        if space:
            from benchmarks.board.space import build_space

            summary["space"] = (space, build_space(board, space, repo, out / "space"))
    check_no_local_paths(out, local_paths(board, sources.values()))
    return summary


def _masked(exc: BaseException, token: str | None) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0][:300] if lines else "no details"
    return text.replace(token, "***") if token else text


def push(folder: Path, repo: str, summary: dict, *, token: str, private: bool = False) -> list[str]:
    """Upload the dataset folder, merge each model card's model-index into its model repo, and upload the
    static Space when the summary holds one."""
    from huggingface_hub import HfApi, ModelCard, metadata_update

    api = HfApi(token=token)
    done = []
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset",
                                   commit_message="Upload emovit leaderboard results",
                                   ignore_patterns=["model_cards/**", "space/**"])
        done.append(f"dataset {repo}: {getattr(commit, 'commit_url', commit)}")
        for name, card_path in summary["model_cards"].values():
            card = ModelCard.load(card_path)
            if api.file_exists(name, "README.md", repo_type="model"):
                metadata_update(name, {"model-index": card.data.to_dict()["model-index"]}, repo_type="model",
                                overwrite=True, token=token, commit_message="Update emovit leaderboard results")
            else:
                card.push_to_hub(name, token=token, commit_message="Add emovit leaderboard results")
            done.append(f"model card {name}: model-index updated")
        if summary.get("space"):
            from benchmarks.board.space import push_space

            space, space_folder = summary["space"]
            done.append(push_space(api, space_folder, space, private=private))
    except Exception as exc:  # network, HTTP and auth errors from huggingface_hub / httpx  # noqa: BLE001
        raise UsageError(f"could not push to the Hub: {type(exc).__name__}: {_masked(exc, token)}") from None
    return done


def _repos(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        model, sep, repo = pair.partition("=")
        if not sep or not model:
            raise UsageError(f"--model-repo {pair}: expected MODEL=ORG/NAME")
        found[model] = check_repo(repo, f"--model-repo {pair}")
    return found


def publish(board: str | Path, repo: str, *, dry_run: str | Path | None = None, model_repos: list[str] = (),
            private: bool = False, space: str | None = None, log=print) -> int:
    """``emovit bench publish``: write the folder (``dry_run``) or build it in a temporary folder and push;
    ``space`` (``ORG/NAME``) adds the page as a static Space."""
    check_repo(repo)
    if space is not None:
        check_repo(space, f"--space {space}")
    repos = _repos(list(model_repos))
    if dry_run is not None:
        summary = build_folder(board, repo, dry_run, model_repos=repos, space=space)
        static = "" if space is None else f", static Space {space} in {Path(dry_run) / 'space'}"
        log(f"dry run: {len(summary['results'])} results file(s), {len(summary['details'])} details file(s), "
            f"{len(summary['model_cards'])} model card(s){static} -> {dry_run} (nothing pushed)")
        return 0
    from huggingface_hub import get_token

    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise UsageError("no Hugging Face token (set HF_TOKEN or log in with 'hf auth login'), or pass "
                         "--dry-run OUT to write the folder only")
    with tempfile.TemporaryDirectory(prefix="emovit-publish-") as temporary:
        folder = Path(temporary) / "results"
        summary = build_folder(board, repo, folder, model_repos=repos, space=space)
        for line in push(folder, repo, summary, token=token, private=private):
            log(line)
    return 0


# ------------------------------------------------------------------------------------------ command line
def add_arguments(parser) -> None:
    """``emovit bench publish``'s arguments."""
    parser.description = ("Write results/<org>/<model>/results_<timestamp>.json, details/<model>/<task>.parquet and "
                          "a dataset card (and model cards with model-index results for models trained here); with "
                          "--dry-run into a folder, otherwise pushed with huggingface_hub (token from HF_TOKEN or "
                          "the login cache, never printed).")
    parser.add_argument("--board", required=True, help="a folder written by 'bench leaderboard'")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME", help="the results dataset repo")
    parser.add_argument("--dry-run", metavar="OUT", help="write the folder here and push nothing")
    parser.add_argument("--model-repo", action="append", default=[], metavar="MODEL=ORG/NAME",
                        help="the Hub repo of a model trained here (its card gets model-index results); "
                             "default ORG/<model>")
    parser.add_argument("--space", metavar="ORG/NAME",
                        help="also upload the page (index.html, plots, the board's files) as a static Space "
                             "(README front matter 'sdk: static'); with --dry-run written to OUT/space")
    parser.add_argument("--private", action="store_true", help="create the dataset repo (and Space) private")
    parser.set_defaults(handler=run)


def run(args) -> int:
    return publish(args.board, args.repo, dry_run=args.dry_run, model_repos=args.model_repo, private=args.private,
                   space=args.space)


__all__ = ["METRICS", "NOT_METRICS", "board_sources", "build_folder", "check_no_local_paths", "check_repo", "dataset_card",
           "details_rows", "local_paths", "model_card", "model_id", "publish", "push", "read_board"]

"""``emovit curate load`` as one call: read the source, load or update the dataset, compute the signals.

The run's :class:`CurateConfig` is saved with the dataset (``dataset.info["emovit"]["load_config"]``).

From Python::

    from builder.curation.pipeline import CurateConfig, curate
    result = curate(CurateConfig(name="emovit-train", build="build", predictions=("runs/bench1",)))
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from builder.curation.instruction_flags import FlagConfig
from builder.curation.loader import INFO_KEY, LoadResult
from builder.curation.signals import SignalConfig, SignalSummary
from schemas.errors import UsageError
from schemas.runinfo import to_jsonable

#: A dataset name: it becomes a folder name (the media directory), so a plain one.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")


def check_dataset_name(name: str) -> str:
    """``name`` when it is a plain dataset name (letters, digits, space, ``.``, ``_``, ``-``; not starting with
    a dot or a space); else a :class:`UsageError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name.endswith((" ", ".")):
        raise UsageError(f"--name must be a plain dataset name (letters, digits, space, '.', '_', '-', starting with "
                         f"a letter or digit, at most 100 characters), got {name!r:.60}")
    return name


#: Where images embedded in a build are written for FiftyOne, unless ``media_dir`` says otherwise.
DEFAULT_MEDIA_ROOT = Path.home() / ".cache" / "emovit" / "curation"


@dataclass(frozen=True)
class CurateConfig:
    """Everything one ``curate load`` run depends on."""

    name: str
    build: str | None = None
    emoset_root: str | None = None
    predictions: tuple[str, ...] = ()
    media_dir: str | None = None
    batch_size: int = 1000
    signals: bool = True
    signal: SignalConfig = field(default_factory=SignalConfig)
    flags: FlagConfig = field(default_factory=FlagConfig)
    database_dir: str | None = None

    def __post_init__(self) -> None:
        if (self.build is None) == (self.emoset_root is None):
            raise UsageError("give exactly one of --dataset (a build) and --emoset-root (a raw tree)")
        check_dataset_name(self.name)
        if self.predictions and not self.signals:
            raise UsageError("--predictions are applied with the signals; drop --no-signals")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {self.batch_size}")

    def media_path(self) -> Path:
        return Path(self.media_dir) if self.media_dir else DEFAULT_MEDIA_ROOT / self.name / "media"


@dataclass
class CurateResult:
    """The load's counts, the signals' counts and the seconds each phase took."""

    load: LoadResult
    signals: SignalSummary | None
    load_seconds: float
    signal_seconds: float
    prediction_files: list[str] = field(default_factory=list)
    rejected_prediction_lines: list[str] = field(default_factory=list)


def curate(config: CurateConfig, *, progress: bool = True) -> CurateResult:
    """Run one ``curate load`` (see the module docs)."""
    from builder.curation.database import fiftyone_log_lines, open_fiftyone

    fo = open_fiftyone(config.database_dir)
    with fiftyone_log_lines(progress):
        return _curate(fo, config, progress)


def _curate(fo, config: CurateConfig, progress: bool) -> CurateResult:
    from builder.curation.images import read_build, read_tree
    from builder.curation.loader import load_source
    from builder.curation.predictions import read_model_predictions
    from builder.curation.signals import compute_signals

    start = time.perf_counter()
    source = read_build(config.build, progress=progress, max_pixels=config.signal.max_pixels) if config.build \
        else read_tree(config.emoset_root, progress=progress, max_pixels=config.signal.max_pixels)
    predictions = read_model_predictions(list(config.predictions), source.emotions) if config.predictions else None
    loaded = load_source(source, config.name, media_dir=config.media_path(), batch_size=config.batch_size,
                         flag_config=config.flags, progress=progress)
    load_seconds = time.perf_counter() - start
    dataset = fo.load_dataset(config.name)
    dataset.info.setdefault(INFO_KEY, {})["load_config"] = to_jsonable(config)
    dataset.save()
    summary = None
    start = time.perf_counter()
    if config.signals:
        summary = compute_signals(dataset, config.signal, predictions=predictions, progress=progress)
    return CurateResult(loaded, summary, round(load_seconds, 3), round(time.perf_counter() - start, 3),
                        predictions.files if predictions else [], predictions.rejected_lines if predictions else [])

"""Quality signals on a loaded dataset: sample fields, ``fiftyone.brain`` runs and the saved views.

Fields written (on images still in the build; other samples get None):

* ``pixel_brightness``, ``pixel_colorfulness`` -- :mod:`builder.sources.pixels` on the image file (0.1 grid), and
  ``brightness_diff``, ``colorfulness_diff`` -- their absolute differences from the annotation;
* ``file_sha256``; ``duplicate_group`` (the smallest image id of the group), ``duplicate_kind``
  (``byte-identical`` when another member has the same bytes, else ``near-identical``) and
  ``duplicate_distance`` (embedding distance to the nearest member). Groups join the pairs
  ``fiftyone.brain.compute_near_duplicates`` finds within ``duplicate_threshold`` (on a Euclidean
  ``compute_similarity`` index of the embeddings) with equal file hashes;
* ``uniqueness`` -- ``fiftyone.brain.compute_uniqueness`` on the same index;
* ``pred_<model>`` -- each model's prediction (``fo.Classification`` with confidence and, with scores, logits);
  ``mistakenness_<model>`` -- ``fiftyone.brain.compute_mistakenness`` (logits) for models with scores;
  ``label_mistakenness`` -- the largest of those; ``label_error_models`` -- models at or above the threshold;
  and a saved view per model and task of the images it misclassified (:mod:`builder.curation.views`);
* brain run ``embeddings`` -- ``compute_visualization(method="pca")`` for the App's Embeddings panel.

Every brain method gets the embeddings computed here (:mod:`builder.curation.embeddings`), so nothing is
downloaded.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from builder.curation.embeddings import METRIC, TINY_IMAGE, tiny_image, vision_encoder_embeddings
from builder.curation.loader import INFO_KEY
from builder.curation.predictions import PredictionsLoad
from builder.sources.imagefiles import DEFAULT_MAX_PIXELS
from builder.sources.pixels import pixel_attributes_of_array
from schemas.errors import UsageError
from schemas.runinfo import to_jsonable

#: Draft decoding keeps both sides of a JPEG at least this long (pixels).
DRAFT_SIDE = 512
#: Brain key of the embeddings visualization.
VISUALIZATION_KEY = "embeddings"
UNIQUENESS_FIELD = "uniqueness"


@dataclass(frozen=True)
class SignalConfig:
    """Thresholds and options of the signals (saved in ``dataset.info["emovit"]["signals"]``)."""

    pixel_threshold: float = 0.3
    duplicate_threshold: float = 0.02
    mistakenness_threshold: float = 0.7
    embeddings_model: str | None = None
    visualization: bool = True
    seed: int = 51
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class ImageStats:
    """Per-image values computed from the files, aligned with ``sample_ids``."""

    sample_ids: list[str]
    image_ids: list[str]
    pixel_brightness: list[float]
    pixel_colorfulness: list[float]
    sha256: list[str]
    embeddings: np.ndarray


@dataclass
class SignalSummary:
    """Counts per saved view and how long each step took."""

    images: int
    pixel_mismatch: int = 0
    near_duplicates: int = 0
    duplicate_groups: int = 0
    instruction_flags: int = 0
    likely_label_errors: int = 0
    models: list[str] = field(default_factory=list)
    misclassified: dict[str, int] = field(default_factory=dict)  # a saved view per model and task: its images
    seconds: dict[str, float] = field(default_factory=dict)


def thumbnail_source(data: bytes, max_pixels: int, name: str) -> Image.Image:
    """The RGB picture the signals are computed on: the pixel limit checked from the header first, then a JPEG
    decoded in draft mode at the smallest DCT scale keeping both sides at least :data:`DRAFT_SIDE` (a fraction of
    a full decode's time and memory; the means, spreads and 8x8 thumbnails barely move), other formats in full."""
    from builder.sources.imagefiles import ImageProblem, open_image

    try:
        with open_image(io.BytesIO(data), max_pixels, name) as opened:
            if opened.format in ("JPEG", "MPO"):
                opened.draft("RGB", (min(DRAFT_SIDE, opened.width), min(DRAFT_SIDE, opened.height)))
            return opened.convert("RGB")
    except ImageProblem as problem:
        raise UsageError(f"{problem.reason} ({problem.code})") from None


def image_stats(sample_ids: list[str], image_ids: list[str], filepaths: list[str], *,
                embeddings_model: str | None = None, progress: bool = True,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageStats:
    """Read every image once: pixel attributes, file hash and (default) embedding."""
    from tqdm.auto import tqdm

    brightness, colorfulness, hashes, vectors = [], [], [], []
    for image_id, path in tqdm(zip(image_ids, filepaths), total=len(filepaths), desc="signals: images", unit="img",
                               disable=not progress):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the image of {image_id} ({exc.strerror}); were the images moved "
                             "since the load? Load again from a build whose image paths exist") from None
        try:
            rgb = thumbnail_source(data, max_pixels, f"{path} (image {image_id})")
        except (OSError, ValueError) as exc:
            raise UsageError(f"{path}: the image of {image_id} cannot be decoded ({type(exc).__name__}: "
                             f"{str(exc)[:80]}); rebuild with image verification on (the default) to quarantine "
                             "it") from None
        hashes.append(hashlib.sha256(data).hexdigest())
        levels = pixel_attributes_of_array(np.asarray(rgb))
        brightness.append(levels.brightness)
        colorfulness.append(levels.colorfulness)
        if embeddings_model is None:
            vectors.append(tiny_image(rgb))
    if embeddings_model is not None:
        embeddings = vision_encoder_embeddings(filepaths, embeddings_model, progress=progress)
    else:
        embeddings = np.stack(vectors) if vectors else np.zeros((0, 1), dtype=np.float32)
    return ImageStats(sample_ids, image_ids, brightness, colorfulness, hashes, embeddings)


def _difference(annotated: float | None, measured: float) -> float | None:
    return None if annotated is None else round(abs(annotated - measured), 6)


def duplicate_groups(image_ids: list[str], sha256: list[str], pairs: list[tuple[int, int, float]]
                     ) -> dict[int, tuple[str, str, float]]:
    """Union of near pairs ``(i, j, distance)`` and equal hashes: per member index, ``(group, kind, distance)``.

    ``group`` is the smallest image id in the group; ``kind`` is ``byte-identical`` when another member has
    the same hash, else ``near-identical``; ``distance`` is the smallest distance to another member (0 for
    byte-identical members).
    """
    parent = list(range(len(image_ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    nearest: dict[int, float] = {}
    by_hash: dict[str, list[int]] = {}
    for index, digest in enumerate(sha256):
        by_hash.setdefault(digest, []).append(index)
    for members in by_hash.values():
        for other in members[1:]:
            parent[root(other)] = root(members[0])
        if len(members) > 1:
            for member in members:
                nearest[member] = 0.0
    for i, j, distance in pairs:
        parent[root(i)] = root(j)
        for member in (i, j):
            nearest[member] = min(nearest.get(member, distance), distance)
    groups: dict[int, list[int]] = {}
    for index in nearest:
        groups.setdefault(root(index), []).append(index)
    result = {}
    for members in groups.values():
        name = min(image_ids[m] for m in members)
        for member in members:
            kind = "byte-identical" if len(by_hash[sha256[member]]) > 1 else "near-identical"
            result[member] = (name, kind, round(max(nearest[member], 0.0), 6))
    return result


def _delete_brain_run(dataset, key: str) -> None:
    if key in dataset.list_brain_runs():
        dataset.delete_brain_run(key)


def _set_all(dataset, name: str, values_by_id: dict, all_ids: list[str]) -> None:
    """Set ``name`` on every sample (None where ``values_by_id`` has no value), in one bulk write."""
    dataset.set_values(name, [values_by_id.get(i) for i in all_ids])


def _near_pairs(view, index, ids: list[str], embeddings: np.ndarray, threshold: float, progress: bool
                ) -> list[tuple[int, int, float]]:
    """``(duplicate, nearest other image, distance)`` for every duplicate ``compute_near_duplicates`` finds.

    The brain decides which images are duplicates (a radius search on the whole index). Its
    ``neighbors_map`` pairs each duplicate with a kept image by querying an index of the kept images that
    is centred on their mean while the query is not, so the pair and distance it reports can be off; the
    nearest image and the distance are therefore recomputed here from the embeddings.
    """
    import fiftyone.brain as fob

    found = fob.compute_near_duplicates(view, similarity_index=index, threshold=threshold, progress=progress)
    position = {sample_id: i for i, sample_id in enumerate(ids)}
    vectors = embeddings.astype(np.float64)
    pairs = []
    for duplicate in found.duplicate_ids:
        i = position[duplicate]
        distances = np.linalg.norm(vectors - vectors[i], axis=1)
        distances[i] = np.inf
        j = int(np.argmin(distances))
        pairs.append((i, j, float(distances[j])))
    return pairs


def _predictions(fo, dataset, predictions: PredictionsLoad, all_ids: list[str], image_ids: list[str]) -> None:
    stored = dict(dataset.info.get(INFO_KEY, {}).get("prediction_fields", {}))
    for model in predictions.models.values():
        if model.field not in dataset.get_field_schema():
            dataset.add_sample_field(model.field, fo.EmbeddedDocumentField, embedded_doc_type=fo.Classification)
        values = {}
        for sample_id, image_id in zip(all_ids, image_ids):
            opinion = model.opinions.get(image_id)
            if opinion is not None:
                values[sample_id] = fo.Classification(label=opinion.label, confidence=opinion.confidence,
                                                      logits=None if opinion.logits is None
                                                      else np.asarray(opinion.logits))
        _set_all(dataset, model.field, values, all_ids)
        stored[model.model] = model.field
    info = dataset.info.setdefault(INFO_KEY, {})
    info["prediction_fields"] = stored
    dataset.save()


def mistakenness_field(prediction_field: str) -> str:
    """The mistakenness field (and brain key) of a ``pred_<model>`` field."""
    return "mistakenness_" + prediction_field.removeprefix("pred_")


def _mistakenness(dataset, view, threshold: float, all_ids: list[str], progress: bool) -> list[str]:
    import fiftyone.brain as fob
    from fiftyone import ViewField as F

    fields = dataset.info.get(INFO_KEY, {}).get("prediction_fields", {})
    worst: dict[str, float] = {}
    disputing: dict[str, list[str]] = {}
    scored = []
    for model, pred_field in sorted(fields.items()):
        target = mistakenness_field(pred_field)
        _delete_brain_run(dataset, target)
        if pred_field not in dataset.get_field_schema():
            continue
        judged = view.match(F(f"{pred_field}.logits").exists())
        if not len(judged):
            continue
        scored.append(model)
        fob.compute_mistakenness(judged, pred_field, label_field="emotion", mistakenness_field=target,
                                 use_logits=True, progress=progress)
        for sample_id, value in zip(*judged.values(["id", target])):
            if value is None:
                continue
            worst[sample_id] = max(worst.get(sample_id, 0.0), float(value))
            if value >= threshold:
                disputing.setdefault(sample_id, []).append(model)
    _set_all(dataset, "label_mistakenness", worst, all_ids)
    _set_all(dataset, "label_error_models", disputing, all_ids)
    return scored


def compute_signals(dataset, config: SignalConfig = SignalConfig(), *, predictions: PredictionsLoad | None = None,
                    progress: bool = True) -> SignalSummary:
    """Compute every signal of the module docs on ``dataset`` and save the four views."""
    from builder.curation.database import fiftyone_log_lines

    with fiftyone_log_lines(progress):
        return _compute_signals(dataset, config, predictions, progress)


def _compute_signals(dataset, config: SignalConfig, predictions: PredictionsLoad | None,
                     progress: bool) -> SignalSummary:
    import fiftyone as fo
    import fiftyone.brain as fob
    from fiftyone import ViewField as F

    from builder.curation import views

    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    for name, kind in (("pixel_brightness", fo.FloatField), ("pixel_colorfulness", fo.FloatField),
                       ("brightness_diff", fo.FloatField), ("colorfulness_diff", fo.FloatField),
                       ("file_sha256", fo.StringField), ("duplicate_group", fo.StringField),
                       ("duplicate_kind", fo.StringField), ("duplicate_distance", fo.FloatField),
                       ("label_mistakenness", fo.FloatField)):
        if name not in dataset.get_field_schema():
            dataset.add_sample_field(name, kind)
    if "label_error_models" not in dataset.get_field_schema():
        dataset.add_sample_field("label_error_models", fo.ListField, subfield=fo.StringField)
    all_ids, all_image_ids = dataset.values(["id", "image_id"])
    view = dataset.match(F("in_build"))
    ids, image_ids, paths, brightness, colorfulness = view.values(
        ["id", "image_id", "filepath", "brightness", "colorfulness"])
    stats = image_stats(ids, image_ids, paths, embeddings_model=config.embeddings_model, progress=progress,
                        max_pixels=config.max_pixels)
    lap("images")

    _set_all(dataset, "pixel_brightness", dict(zip(ids, stats.pixel_brightness)), all_ids)
    _set_all(dataset, "pixel_colorfulness", dict(zip(ids, stats.pixel_colorfulness)), all_ids)
    _set_all(dataset, "brightness_diff", {i: _difference(a, m) for i, a, m in
                                          zip(ids, brightness, stats.pixel_brightness)}, all_ids)
    _set_all(dataset, "colorfulness_diff", {i: _difference(a, m) for i, a, m in
                                            zip(ids, colorfulness, stats.pixel_colorfulness)}, all_ids)
    _set_all(dataset, "file_sha256", dict(zip(ids, stats.sha256)), all_ids)
    lap("pixel_fields")

    _delete_brain_run(dataset, UNIQUENESS_FIELD)
    pairs = []
    if len(ids) > 1:
        index = fob.compute_similarity(view, embeddings=stats.embeddings, backend="sklearn", metric=METRIC,
                                       progress=progress)
        pairs = _near_pairs(view, index, ids, stats.embeddings, config.duplicate_threshold, progress)
        fob.compute_uniqueness(view, uniqueness_field=UNIQUENESS_FIELD, similarity_index=index, progress=progress)
    groups = duplicate_groups(image_ids, stats.sha256, pairs)
    for position, name in enumerate(("duplicate_group", "duplicate_kind", "duplicate_distance")):
        _set_all(dataset, name, {ids[m]: value[position] for m, value in groups.items()}, all_ids)
    lap("duplicates")

    if predictions is not None and predictions.models:
        _predictions(fo, dataset, predictions, all_ids, all_image_ids)
    models = _mistakenness(dataset, view, config.mistakenness_threshold, all_ids, progress)
    lap("label_errors")

    _delete_brain_run(dataset, VISUALIZATION_KEY)
    if config.visualization and len(ids) > 2:
        fob.compute_visualization(view, embeddings=stats.embeddings, method="pca", brain_key=VISUALIZATION_KEY,
                                  seed=config.seed, progress=progress)
    lap("visualization")

    views.save_signal_views(dataset, pixel_threshold=config.pixel_threshold,
                            mistakenness_threshold=config.mistakenness_threshold)
    misclassified = views.save_misclassified_views(dataset, predictions.models.values()) if predictions else {}
    info = dataset.info.setdefault(INFO_KEY, {})
    info["signals"] = {**to_jsonable(config), "embedding": config.embeddings_model or TINY_IMAGE, "metric": METRIC}
    dataset.save()
    lap("views")
    return SignalSummary(
        images=len(ids),
        pixel_mismatch=len(views.pixel_mismatch_view(dataset, config.pixel_threshold)),
        near_duplicates=len(groups), duplicate_groups=len({g for g, _, _ in groups.values()}),
        instruction_flags=len(views.instruction_flags_view(dataset)),
        likely_label_errors=len(views.likely_label_errors_view(dataset, config.mistakenness_threshold)),
        models=models, misclassified=misclassified, seconds=timings)

"""Create or update a persistent FiftyOne dataset with one sample per image of a build (or raw tree).

Sample fields (declared before the first sample is added, so batches skip per-sample schema checks):

==========================  =====================================================================
``image_id``                EmoSet image id, the key that re-loads and decisions match on
``split``                   the image's split (also a sample tag)
``emotion``                 ``fo.Classification``: the label in the build
``brightness``              annotated brightness (float, 0-1)
``colorfulness``            annotated colorfulness (float, 0-1)
``scene``                   ``fo.Classification`` (None when not annotated)
``facial_expression``       ``fo.Classification`` (None when not annotated)
``human_action``            ``fo.Classification`` (None when not annotated)
``objects``                 ``fo.Classifications``, one per annotated object
``caption``                 the caption the instructions were generated from
``instructions_<kind>``     the image's instruction samples of each kind, as ``Q: ... / A: ...`` text
``sample_ids``              the ids of the image's instruction samples
``instruction_flags``       codes from :mod:`builder.curation.instruction_flags`
``instruction_issues``      one line per flag: sample id, code and detail
``build_fingerprint``       ``report.json`` fingerprint of the build (None for a raw tree)
``generator``               generator(s) of the image's instructions (``backend:model``)
``source``                  the build directory or tree the sample was loaded from
``in_build``                False once a re-load no longer finds the image (it was excluded)
==========================  =====================================================================

Re-loading merges by ``image_id``: fields are replaced with the new values, sample ids and tags set in the
App are kept, new images are added, and images missing from the new build stay (``in_build`` False) so
their tags -- an ``exclude`` above all -- survive the rebuild they caused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from builder.curation.images import CurationSource, ImageEntry
from builder.curation.instruction_flags import FlagConfig, flag_instructions, flags_by_image
from schemas.protocol import KINDS
from schemas.runinfo import to_jsonable

#: Label-valued sample fields holding one ``fo.Classification``.
CLASSIFICATION_FIELDS: tuple[str, ...] = ("emotion", "scene", "facial_expression", "human_action")
#: Key under ``dataset.info`` where curation keeps its provenance and settings.
INFO_KEY = "emovit"


def instruction_field(kind: str) -> str:
    """The sample field holding the instructions of ``kind``."""
    return f"instructions_{kind}"


def declare_fields(fo, dataset) -> None:
    """Add the loader's sample fields to ``dataset`` where missing (idempotent)."""
    string, floating, strings = fo.StringField, fo.FloatField, (fo.ListField, {"subfield": fo.StringField})
    fields: dict[str, tuple] = {
        "image_id": (string, {}), "split": (string, {}),
        **{name: (fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Classification}) for name in CLASSIFICATION_FIELDS},
        "objects": (fo.EmbeddedDocumentField, {"embedded_doc_type": fo.Classifications}),
        "brightness": (floating, {}), "colorfulness": (floating, {}), "caption": (string, {}),
        **{instruction_field(kind): strings for kind in KINDS},
        "sample_ids": strings, "instruction_flags": strings, "instruction_issues": strings,
        "build_fingerprint": (string, {}), "generator": (string, {}), "source": (string, {}),
        "in_build": (fo.BooleanField, {}),
    }
    schema = dataset.get_field_schema()
    for name, (kind, kwargs) in fields.items():
        if name not in schema:
            dataset.add_sample_field(name, kind, **kwargs)


def materialise(entry: ImageEntry, media_dir: Path | None) -> str:
    """A path on disk for the entry's image; embedded bytes are written once under ``media_dir``."""
    if entry.image_bytes is None:
        if not entry.filepath:
            raise ValueError(f"{entry.image_id}: the image has neither a path nor bytes")
        return str(Path(entry.filepath).resolve())
    if media_dir is None:
        raise ValueError("a media directory is needed for builds with embedded images")
    suffix = Path(entry.image_name or "").suffix or ".jpg"
    digest = hashlib.sha256(entry.image_bytes).hexdigest()[:12]
    target = media_dir / entry.split / f"{entry.image_id}-{digest}{suffix}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(entry.image_bytes)
    return str(target.resolve())


def make_sample(fo, entry: ImageEntry, filepath: str, source: CurationSource,
                flags: tuple[list[str], list[str]] | None):
    """The ``fo.Sample`` of one image."""
    attributes = entry.attributes

    def label(value):
        return fo.Classification(label=value) if value else None

    codes, issues = flags or ([], [])
    fields = {
        "image_id": entry.image_id, "split": entry.split, "emotion": fo.Classification(label=entry.emotion),
        "brightness": attributes.get("brightness"), "colorfulness": attributes.get("colorfulness"),
        "scene": label(attributes.get("scene")), "facial_expression": label(attributes.get("facial_expression")),
        "human_action": label(attributes.get("human_action")),
        "objects": fo.Classifications(classifications=[fo.Classification(label=name)
                                                       for name in attributes.get("objects") or ()]),
        "caption": entry.caption, "sample_ids": list(entry.sample_ids),
        "instruction_flags": list(codes), "instruction_issues": list(issues),
        "build_fingerprint": source.fingerprint, "generator": entry.generator, "source": source.path,
        "in_build": True,
    }
    for kind in KINDS:
        fields[instruction_field(kind)] = list(entry.instructions.get(kind, ()))
    return fo.Sample(filepath=filepath, tags=[entry.split], **fields)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class LoadResult:
    """What a load did: images added and updated, images no longer in the source, flags raised."""

    name: str
    images: int
    added: int
    updated: int
    not_in_source: int
    flagged_images: int
    skipped_entries: int


def _add_in_batches(dataset, samples: Iterable, total: int, batch_size: int, progress: bool, desc: str) -> None:
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit="img", disable=not progress) as bar:
        batch: list = []
        for sample in samples:
            batch.append(sample)
            if len(batch) == batch_size:
                dataset.add_samples(batch, expand_schema=False, validate=False, progress=False)
                bar.update(len(batch))
                batch = []
        if batch:
            dataset.add_samples(batch, expand_schema=False, validate=False, progress=False)
            bar.update(len(batch))


def load_source(source: CurationSource, name: str, *, media_dir: str | Path | None = None,
                batch_size: int = 1000, flag_config: FlagConfig = FlagConfig(), progress: bool = True,
                database_dir: str | Path | None = None) -> LoadResult:
    """Create or update the persistent FiftyOne dataset ``name`` from ``source``; see the module docs."""
    from fiftyone import ViewField as F

    from builder.curation.database import open_fiftyone
    from builder.curation.views import save_instruction_view

    fo = open_fiftyone(database_dir)
    flags = flags_by_image(flag_instructions(source.rows, flag_config))
    media = Path(media_dir) if media_dir is not None else None
    samples = (make_sample(fo, entry, materialise(entry, media), source, flags.get(entry.image_id))
               for entry in source.images)
    exists = fo.dataset_exists(name)
    dataset = fo.load_dataset(name) if exists else fo.Dataset(name, persistent=True)
    declare_fields(fo, dataset)
    before = set(dataset.distinct("image_id")) if len(dataset) else set()
    if not before:
        _add_in_batches(dataset, samples, len(source.images), batch_size, progress, "load")
    else:
        staging = fo.Dataset()
        try:
            declare_fields(fo, staging)
            _add_in_batches(staging, samples, len(source.images), batch_size, progress, "load (staging)")
            dataset.merge_samples(staging, key_field="image_id", omit_fields=["tags"], merge_lists=False,
                                  overwrite=True, insert_new=True, progress=False)
        finally:
            staging.delete()
        for split in source.splits:
            dataset.match(F("split") == split).tag_samples(split)
            dataset.match((F("split") != split) & F("tags").contains(split)).untag_samples(split)
    current = {entry.image_id for entry in source.images}
    gone = sorted(before - current)
    if gone:
        dataset.match(F("image_id").is_in(gone)).set_field("in_build", False).save()
    dataset.info[INFO_KEY] = {
        **dataset.info.get(INFO_KEY, {}),
        "source_kind": source.kind, "source": source.path, "build_fingerprint": source.fingerprint,
        "splits": list(source.splits), "emotions": list(source.emotions), "flags": to_jsonable(flag_config),
    }
    dataset.save()
    save_instruction_view(dataset)
    return LoadResult(name=name, images=len(source.images), added=len(current - before),
                      updated=len(current & before), not_in_source=len(gone), flagged_images=len(flags),
                      skipped_entries=source.skipped)

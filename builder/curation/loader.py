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
    """The ``fo.Sample`` of one image, without its label fields (see :func:`label_values`)."""
    attributes = entry.attributes
    codes, issues = flags or ([], [])
    fields = {
        "image_id": entry.image_id, "split": entry.split,
        "brightness": attributes.get("brightness"), "colorfulness": attributes.get("colorfulness"),
        "caption": entry.caption, "sample_ids": list(entry.sample_ids),
        "instruction_flags": list(codes), "instruction_issues": list(issues),
        "build_fingerprint": source.fingerprint, "generator": entry.generator, "source": source.path,
        "in_build": True,
    }
    for kind in KINDS:
        fields[instruction_field(kind)] = list(entry.instructions.get(kind, ()))
    return fo.Sample(filepath=filepath, tags=[entry.split], **fields)


class LabelDocuments:
    """Stored documents of ``fo.Classification`` / ``fo.Classifications`` labels, made in bulk.

    FiftyOne serialises each distinct label text once (``Classification(label=...).to_mongo()``); every use
    gets a copy with a fresh ObjectId as its label id. Building a mongoengine object per label (and
    serialising it again inside ``set_values``) would cost most of a load's time.
    """

    def __init__(self, fo) -> None:
        from bson import ObjectId

        self._new_id = ObjectId
        self._fo = fo
        self._templates: dict[str, dict] = {}
        self._list_template = dict(fo.Classifications().to_mongo())

    def classification(self, label: str | None) -> dict | None:
        """The document of ``Classification(label=label)`` with its own id (None for a missing label)."""
        if not label:
            return None
        template = self._templates.get(label)
        if template is None:
            template = self._templates[label] = dict(self._fo.Classification(label=label).to_mongo())
        return {**template, "_id": self._new_id(), "tags": []}

    def classifications(self, labels) -> dict:
        """The document of ``Classifications`` holding one classification per label."""
        return {**self._list_template, "classifications": [self.classification(label) for label in labels or ()]}


def label_values(documents: LabelDocuments, entries: list[ImageEntry]) -> dict[str, list]:
    """The label fields of ``entries`` as stored documents, one list per field, in entry order."""
    return {
        "emotion": [documents.classification(e.emotion) for e in entries],
        **{name: [documents.classification(e.attributes.get(name)) for e in entries]
           for name in ("scene", "facial_expression", "human_action")},
        "objects": [documents.classifications(e.attributes.get("objects")) for e in entries],
    }


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


def _add_in_batches(fo, dataset, source: CurationSource, media: Path | None, flags: dict, batch_size: int,
                    progress: bool, desc: str) -> None:
    """Add the source's images batch by batch: samples first, then their label fields in bulk.

    Setting labels with ``set_values`` after the insert, as stored documents (:class:`LabelDocuments`),
    costs a fraction of passing them inside each ``fo.Sample``: FiftyOne rebuilds every inserted sample's
    document, embedded labels included.
    """
    from tqdm.auto import tqdm

    documents = LabelDocuments(fo)
    with tqdm(total=len(source.images), desc=desc, unit="img", disable=not progress) as bar:
        for start in range(0, len(source.images), batch_size):
            entries = source.images[start:start + batch_size]
            ids = dataset.add_samples([make_sample(fo, e, materialise(e, media), source, flags.get(e.image_id))
                                       for e in entries], expand_schema=False, validate=False, progress=False)
            # no Sample object of the batch is alive any more, so set_values has none to reload one by one
            added = dataset.select(ids, ordered=True)
            for name, values in label_values(documents, entries).items():
                added.set_values(name, values, validate=False, progress=False)
            bar.update(len(entries))


def _missing_values(source: CurationSource) -> dict[str, list[str]]:
    """Per nullable field, the images whose new value is None (FiftyOne leaves None out of inserted samples,
    so a merge would keep the old value)."""
    getters = {
        "brightness": lambda e: e.attributes.get("brightness"),
        "colorfulness": lambda e: e.attributes.get("colorfulness"),
        "caption": lambda e: e.caption,
        "generator": lambda e: e.generator,
        "build_fingerprint": lambda e: source.fingerprint,
    }
    return {name: [e.image_id for e in source.images if get(e) is None] for name, get in getters.items()}


def _clear_missing_values(dataset, source: CurationSource) -> None:
    from fiftyone import ViewField as F

    for name, image_ids in _missing_values(source).items():
        if image_ids:
            dataset.match(F("image_id").is_in(image_ids)).set_field(name, None).save()


def load_source(source: CurationSource, name: str, *, media_dir: str | Path | None = None,
                batch_size: int = 1000, flag_config: FlagConfig | None = None, progress: bool = True,
                database_dir: str | Path | None = None) -> LoadResult:
    """Create or update the persistent FiftyOne dataset ``name`` from ``source``; see the module docs."""
    from fiftyone import ViewField as F

    from builder.curation.database import open_fiftyone
    from builder.curation.views import save_instruction_view

    fo = open_fiftyone(database_dir)
    flag_config = flag_config or FlagConfig()
    flags = flags_by_image(flag_instructions(source.rows, flag_config))
    media = Path(media_dir) if media_dir is not None else None
    exists = fo.dataset_exists(name)
    dataset = fo.load_dataset(name) if exists else fo.Dataset(name, persistent=True)
    declare_fields(fo, dataset)
    before = set(dataset.distinct("image_id")) if len(dataset) else set()
    if not before:
        _add_in_batches(fo, dataset, source, media, flags, batch_size, progress, "load")
    else:
        staging = fo.Dataset()
        try:
            declare_fields(fo, staging)
            _add_in_batches(fo, staging, source, media, flags, batch_size, progress, "load (staging)")
            dataset.merge_samples(staging, key_field="image_id", omit_fields=["tags"], merge_lists=False,
                                  overwrite=True, insert_new=True, progress=False)
        finally:
            staging.delete()
        _clear_missing_values(dataset, source)
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

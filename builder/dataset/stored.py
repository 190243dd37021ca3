"""A build as it lies on disk: recognising a build directory, loading its ``DatasetDict``, streaming a split's
Arrow record batches, hashing a split's content and checking its image files again before a later stage
opens them, all with memory flat in the number of rows."""

from __future__ import annotations

import hashlib
from pathlib import Path

from schemas.errors import UsageError

#: Rows per record batch of the content hash (fixed, so the hash does not depend on how files were chunked).
HASH_BATCH_ROWS = 8192


def is_build_dir(path: Path) -> bool:
    return (path / "report.json").is_file() and (path / "dataset_dict.json").is_file()


def load_built(path: str | Path):
    """The ``DatasetDict`` a build directory (any ``save_to_disk`` folder of splits) holds; one clear
    :class:`UsageError` when there is none."""
    import datasets

    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path}: dataset directory not found (build one with 'emovit build')")
    try:
        built = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"{path}: not a datasets save_to_disk directory: {exc}") from None
    if not isinstance(built, datasets.DatasetDict):
        raise UsageError(f"{path}: expected a DatasetDict of splits, as 'emovit build' writes")
    return built


def record_batches(dataset, columns: list[str] | None = None):
    """The rows of a split loaded from disk, as Arrow record batches read from its files (not memory-mapped,
    so pages read are not kept resident: a whole-split pass costs one batch of memory)."""
    import pyarrow as pa

    for file in dataset.cache_files:
        with pa.OSFile(file["filename"]) as source:
            for batch in pa.ipc.open_stream(source):
                yield batch.select(columns) if columns else batch


def content_hash(dataset) -> str:
    """sha256 over a split's rows and features: its Arrow IPC stream in batches of ``HASH_BATCH_ROWS`` rows,
    written into the hash as they are made (memory stays flat). Equal rows and features, equal hashes."""
    import pyarrow as pa

    digest = hashlib.sha256()

    class Sink:
        closed = False

        def write(self, data) -> int:
            digest.update(data)
            return len(data)

        def flush(self) -> None:
            pass

    schema = dataset.data.schema
    with pa.ipc.new_stream(pa.PythonFile(Sink(), mode="w"), schema) as writer:
        pending = pa.Table.from_batches([], schema)
        for batch in record_batches(dataset):
            pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
            while pending.num_rows >= HASH_BATCH_ROWS:
                writer.write_table(pending.slice(0, HASH_BATCH_ROWS).combine_chunks())
                pending = pending.slice(HASH_BATCH_ROWS)
        if pending.num_rows:
            writer.write_table(pending.combine_chunks())
    return digest.hexdigest()[:16]


def image_batches(dataset, rows: int = HASH_BATCH_ROWS):
    """The ``image_id`` and ``image`` columns of a split (any row selection of it), as Arrow record batches."""
    subset = dataset.select_columns(["image_id", "image"]).with_format("arrow")
    for table in subset.iter(batch_size=rows):
        yield from table.combine_chunks().to_batches()


def source_root(build_dir: str | Path) -> str | None:
    """The resolved root of the tree a build read (``report.json`` ``source_root``; None when unknown)."""
    import json

    try:
        root = json.loads((Path(build_dir) / "report.json").read_text(encoding="utf-8")).get("source_root")
    except (OSError, ValueError, AttributeError):
        return None
    return root if isinstance(root, str) and root else None


def check_source_images(build_dir: str | Path, built, splits=None, *, max_pixels: int | None = None) -> int:
    """Apply the reader's containment rule to every image a build stores by path, before a later stage
    (export, curation, training, scoring) opens one: the resolved path must lie inside the tree the build
    read and be a regular file (and, with ``max_pixels``, its header within the pixel limit). The first image
    that fails is a :class:`UsageError` of one line naming the split and the image id; returns how many
    files were checked."""
    from builder.sources.imagefiles import ImageProblem, check_build_image, open_image

    root = source_root(build_dir)
    checked = 0
    for split in splits or list(built):
        seen: set[str] = set()
        for batch in image_batches(built[split]):
            images = batch.column("image")
            paths, embedded = images.field("path").to_pylist(), images.field("bytes").is_valid().to_pylist()
            for image_id, path, has_bytes in zip(batch.column("image_id").to_pylist(), paths, embedded):
                if has_bytes or path in seen:
                    continue
                if not path:
                    raise UsageError(f"{build_dir}: split {split}, image {image_id}: neither bytes nor a path")
                seen.add(path)
                what = f"{build_dir}: split {split}, image {image_id}"
                real = check_build_image(path, root, what=what)
                if max_pixels is not None:
                    try:
                        with open(real, "rb") as handle:
                            open_image(handle, max_pixels, path).close()
                    except ImageProblem as problem:
                        if problem.code == "image_too_large":
                            raise UsageError(f"{what}: {problem.reason}") from None
                checked += 1
    return checked

"""The ``datasets`` features of a built EmoVIT instruction dataset (one row per instruction sample).

Columns:
    id            unique sample id, ``<image_id>-<kind>`` (``-<turn>`` appended when turns are split)
    image_id      EmoSet image id (e.g. ``awe_06628``)
    image         the image (embedded bytes, or a path, per build option)
    emotion       ClassLabel in EmoSet's ``info.json`` index order
    attributes    brightness, colorfulness, scene, objects, facial_expression, human_action (nullable)
    caption       the caption the instructions were generated from
    kind          categorical | conversation | reasoning
    conversations LLaVA format: list of {"from": "human"|"gpt", "value": str}; ``<image>`` opens turn 0
    generator     backend, model, prompt_version, temperature, seed
"""

from __future__ import annotations

from schemas.vocab import EMOTIONS


def instruction_features(emotions: tuple[str, ...] = EMOTIONS, *, decode_images: bool = True):
    """The ``datasets.Features`` of instruction rows."""
    import datasets

    return datasets.Features({
        "id": datasets.Value("string"),
        "image_id": datasets.Value("string"),
        "image": datasets.Image(decode=decode_images),
        "emotion": datasets.ClassLabel(names=list(emotions)),
        "attributes": {
            "brightness": datasets.Value("float64"),
            "colorfulness": datasets.Value("float64"),
            "scene": datasets.Value("string"),
            "objects": datasets.List(datasets.Value("string")),
            "facial_expression": datasets.Value("string"),
            "human_action": datasets.Value("string"),
        },
        "caption": datasets.Value("string"),
        "kind": datasets.Value("string"),
        "conversations": datasets.List({"from": datasets.Value("string"), "value": datasets.Value("string")}),
        "generator": {
            "backend": datasets.Value("string"),
            "model": datasets.Value("string"),
            "prompt_version": datasets.Value("string"),
            "temperature": datasets.Value("float32"),
            "seed": datasets.Value("int64"),
        },
    })


def column(dataset, name: str) -> list:
    """Every value of one column as Python objects, read from Arrow in one go.

    ``dataset[name]`` formats row by row, which is slow on large splits; ``dataset.data`` is the underlying
    table and ignores the row selection that ``select``/``filter``/``shuffle`` leave behind (the indices
    mapping). Formatting the one-column view as Arrow applies that selection, so this returns exactly the
    rows ``dataset`` holds, in its order. Class labels come back as their integer ids.
    """
    return dataset.select_columns([name]).with_format("arrow")[:].column(name).to_pylist()

"""The saved views curation leaves on a dataset, by name, and what each one holds.

Every view only shows images still in the build (``in_build``); images a rebuild excluded keep their tags
but leave the signal views.

==========================  =================================================================================
``pixel-mismatch``          ``brightness_diff >= t`` or ``colorfulness_diff >= t`` (``t`` = 0.3 by default),
                            largest difference first
``near-duplicates``         images in a duplicate group (byte-identical or near-identical), grouped
``instruction-flags``       images with at least one instruction flag
``likely-label-errors``     ``label_mistakenness >= m`` (``m`` = 0.7 by default), most likely first
``misclassified-<model>-``  one per model and task loaded with ``--predictions``: the images that model
``<task>``                  answered wrong on that task (a ``pred`` other than the row's ``gold``, or no
                            parsable answer), by image id
==========================  =================================================================================

A misclassified view's name holds the model and the task through :func:`schemas.names.safe_name` (plain names
stay readable; any other string becomes a plain stem and a digest), and FiftyOne identifies a saved view by the
slug of its name (lower case, runs of space, ``+``, ``_``, ``.``, ``-`` turned into one ``-``): pairs whose names
would share a slug get hashed names instead, so no view of a load replaces another. The view's description
names the model and the task as they were written.
"""

from __future__ import annotations

PIXEL_MISMATCH = "pixel-mismatch"
NEAR_DUPLICATES = "near-duplicates"
INSTRUCTION_FLAGS = "instruction-flags"
LIKELY_LABEL_ERRORS = "likely-label-errors"
MISCLASSIFIED = "misclassified-"


def _in_build(dataset):
    from fiftyone import ViewField as F

    return dataset.match(F("in_build"))


def pixel_mismatch_view(dataset, threshold: float):
    """Images whose annotated brightness or colorfulness is ``threshold`` or more away from their pixels'."""
    from fiftyone import ViewField as F

    worst = F("brightness_diff").max(F("colorfulness_diff"))
    return _in_build(dataset).match((F("brightness_diff") >= threshold) | (F("colorfulness_diff") >= threshold)
                                    ).sort_by(worst, reverse=True)


def near_duplicates_view(dataset):
    """Images in a duplicate group, ordered by group then image id."""
    from fiftyone import ViewField as F

    return _in_build(dataset).match(F("duplicate_group").exists()).sort_by(
        [("duplicate_group", 1), ("image_id", 1)])


def instruction_flags_view(dataset):
    """Images with at least one instruction flag."""
    from fiftyone import ViewField as F

    return _in_build(dataset).match(F("instruction_flags").length() > 0)


def likely_label_errors_view(dataset, threshold: float):
    """Images whose label a model with per-label scores confidently disputes, most likely error first."""
    from fiftyone import ViewField as F

    return _in_build(dataset).match(F("label_mistakenness") >= threshold).sort_by("label_mistakenness", reverse=True)


def _save(dataset, name: str, view, description: str) -> None:
    dataset.save_view(name, view, description=description, overwrite=True)


def save_instruction_view(dataset) -> None:
    """Save ``instruction-flags`` (the loader computes its field)."""
    _save(dataset, INSTRUCTION_FLAGS, instruction_flags_view(dataset),
          "instructions with leakage, length outliers, wrong categorical answers or repeated answers")


def save_signal_views(dataset, *, pixel_threshold: float, mistakenness_threshold: float) -> None:
    """Save ``pixel-mismatch``, ``near-duplicates`` and ``likely-label-errors`` (after the signals ran)."""
    _save(dataset, PIXEL_MISMATCH, pixel_mismatch_view(dataset, pixel_threshold),
          f"annotated brightness or colorfulness at least {pixel_threshold} away from the pixels'")
    _save(dataset, NEAR_DUPLICATES, near_duplicates_view(dataset),
          "byte-identical and near-identical images, by duplicate group")
    _save(dataset, LIKELY_LABEL_ERRORS, likely_label_errors_view(dataset, mistakenness_threshold),
          f"labels a model disputes with mistakenness at least {mistakenness_threshold}")


def misclassified_view_names(pairs) -> dict[tuple[str, str], str]:
    """``{(model, task): saved view name}``, distinct slugs guaranteed (see the module docs); a
    :class:`~schemas.errors.UsageError` if two still clash (a digest collision: never overwrite)."""
    from fiftyone.core.utils import to_slug

    from schemas.errors import UsageError
    from schemas.names import hashed_name, safe_name

    names = {pair: f"{MISCLASSIFIED}{safe_name(pair[0])}-{safe_name(pair[1])}" for pair in pairs}
    groups: dict[str, list[tuple[str, str]]] = {}
    for pair, name in names.items():
        groups.setdefault(to_slug(name), []).append(pair)
    for clashing in groups.values():
        if len(clashing) > 1:
            for pair in clashing:
                names[pair] = MISCLASSIFIED + hashed_name(f"{pair[0]}-{pair[1]}", salt=repr(pair))
    seen: dict[str, tuple[str, str]] = {}
    for pair, name in names.items():
        other = seen.setdefault(to_slug(name), pair)
        if other != pair:
            raise UsageError(f"the misclassified views of {other} and {pair} would share the name {name!r}; "
                             "rename a model or a task")
    return names


def misclassified_view(dataset, image_ids):
    """The images of ``image_ids`` still in the build, by image id."""
    from fiftyone import ViewField as F

    return _in_build(dataset).match(F("image_id").is_in(sorted(set(image_ids)))).sort_by("image_id")


def save_misclassified_views(dataset, models) -> dict[str, int]:
    """Save one view per model and task of ``models`` (:class:`~builder.curation.predictions.ModelPredictions`
    values) holding the images that model answered wrong on that task; returns ``{view name: images}``."""
    pairs = {(model.model, task): model for model in models for task in model.scored}
    saved = {}
    for (model_name, task), name in misclassified_view_names(pairs).items():
        model = pairs[(model_name, task)]
        view = misclassified_view(dataset, model.misclassified.get(task, ()))
        _save(dataset, name, view, f"images model {model_name!r} answered wrong (or not at all) on task {task!r}: "
                                   f"{len(model.misclassified.get(task, ()))} of {model.scored[task]} scored")
        saved[name] = len(view)
    return saved

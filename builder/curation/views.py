"""The saved views curation leaves on a dataset, by name, and what each one holds.

Every view only shows images still in the build (``in_build``); images a rebuild excluded keep their tags
but leave the signal views.

==========================  =================================================================================
``pixel-mismatch``          ``brightness_diff >= t`` or ``colorfulness_diff >= t`` (``t`` = 0.3 by default),
                            largest difference first
``near-duplicates``         images in a duplicate group (byte-identical or near-identical), grouped
``instruction-flags``       images with at least one instruction flag
``likely-label-errors``     ``label_mistakenness >= m`` (``m`` = 0.7 by default), most likely first
==========================  =================================================================================
"""

from __future__ import annotations

PIXEL_MISMATCH = "pixel-mismatch"
NEAR_DUPLICATES = "near-duplicates"
INSTRUCTION_FLAGS = "instruction-flags"
LIKELY_LABEL_ERRORS = "likely-label-errors"


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

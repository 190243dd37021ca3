"""Tags set in the FiftyOne App, turned into the ``emovit-curation/1`` decisions file the build applies.

Sample tags read (other tags, split names included, are ignored):

* ``exclude`` -- the image leaves the next build (quarantined there with code ``curation_excluded``);
* ``relabel:<emotion>`` -- the image gets ``<emotion>`` (one of the vocabulary's emotions).

An image tagged both ways, or with two different relabels, is a :class:`~schemas.errors.UsageError` naming
every such image, so nothing ambiguous reaches a build. The reason written for each decision names the tag,
the dataset, and the saved views the image was in when the file was written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from builder.dataset.curation_file import CurationDecisions
from schemas.errors import UsageError
from schemas.runinfo import write_json

EXCLUDE_TAG = "exclude"
RELABEL_PREFIX = "relabel:"


@dataclass(frozen=True)
class TaggedImage:
    """One image's id, tags and the saved views it is in."""

    image_id: str
    tags: tuple[str, ...]
    views: tuple[str, ...] = ()


def decisions_from_tags(images: list[TaggedImage], emotions: tuple[str, ...], *, dataset_name: str,
                        source: str = "<memory>") -> CurationDecisions:
    """The decisions the ``exclude`` and ``relabel:<emotion>`` tags of ``images`` ask for."""
    exclude: dict[str, str] = {}
    relabel: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for image in sorted(images, key=lambda i: i.image_id):
        relabels = sorted({tag[len(RELABEL_PREFIX):] for tag in image.tags if tag.startswith(RELABEL_PREFIX)})
        flagged_by = f" (in {', '.join(image.views)})" if image.views else ""
        unknown = [e for e in relabels if e not in emotions]
        if unknown:
            problems.append(f"{image.image_id}: tag 'relabel:{unknown[0]}' names no emotion of {', '.join(emotions)}")
            continue
        if EXCLUDE_TAG in image.tags and relabels:
            problems.append(f"{image.image_id}: tagged both 'exclude' and 'relabel:{relabels[0]}'")
            continue
        if len(relabels) > 1:
            problems.append(f"{image.image_id}: tagged with {len(relabels)} relabels ({', '.join(relabels)})")
            continue
        if EXCLUDE_TAG in image.tags:
            exclude[image.image_id] = f"tagged 'exclude' in FiftyOne dataset {dataset_name!r}{flagged_by}"
        elif relabels:
            reason = f"tagged 'relabel:{relabels[0]}' in FiftyOne dataset {dataset_name!r}{flagged_by}"
            relabel[image.image_id] = (relabels[0], reason)
    if problems:
        raise UsageError(f"conflicting curation tags; fix them in the App: {'; '.join(problems)}")
    return CurationDecisions(exclude, relabel, source)


def tagged_images(dataset) -> list[TaggedImage]:
    """Images of a FiftyOne dataset carrying a curation tag, with the saved views they are in."""
    from fiftyone import ViewField as F

    wanted = dataset.match(F("tags").filter((F() == EXCLUDE_TAG) | F().starts_with(RELABEL_PREFIX)).length() > 0)
    image_ids, tags = wanted.values(["image_id", "tags"])
    membership: dict[str, list[str]] = defaultdict(list)
    selected = set(image_ids)
    for name in dataset.list_saved_views():
        for image_id in dataset.load_saved_view(name).values("image_id"):
            if image_id in selected:
                membership[image_id].append(name)
    return [TaggedImage(i, tuple(t or ()), tuple(membership.get(i, ()))) for i, t in zip(image_ids, tags)]


def write_decisions(dataset, out: str | Path, emotions: tuple[str, ...] | None = None) -> CurationDecisions:
    """Write the decisions of ``dataset``'s tags to ``out`` (``emovit-curation/1``) and return them."""
    from builder.curation.loader import INFO_KEY
    from schemas.vocab import EMOTIONS

    emotions = emotions or tuple(dataset.info.get(INFO_KEY, {}).get("emotions") or EMOTIONS)
    decisions = decisions_from_tags(tagged_images(dataset), emotions, dataset_name=dataset.name, source=str(out))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, decisions.to_json())
    return decisions

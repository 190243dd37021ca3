"""Tags set in the FiftyOne App, turned into the ``emovit-curation/1`` decisions file the build applies.

Sample tags read (compared trimmed and case-folded, so ``Exclude``, ``exclude `` and ``RELABEL: Fear`` count;
other tags are ignored, and ``emovit curate decisions`` lists those that are not split names):

* ``exclude`` -- the image leaves the next build (quarantined there with code ``curation_excluded``);
* ``relabel:<emotion>`` -- the image gets ``<emotion>`` (one of the vocabulary's emotions, by name).

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


def normalise_tag(tag: str) -> str:
    """A tag as curation reads it: trimmed, inner whitespace collapsed, case-folded, no space around ``:``."""
    text = " ".join(tag.split()).casefold()
    head, colon, tail = text.partition(":")
    return f"{head.strip()}:{tail.strip()}" if colon else text


def is_curation_tag(tag: str) -> bool:
    """Whether ``tag`` (as set in the App) asks for a curation decision."""
    normal = normalise_tag(tag)
    return normal == EXCLUDE_TAG or normal.startswith(RELABEL_PREFIX)


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
    by_name = {emotion.casefold(): emotion for emotion in emotions}
    for image in sorted(images, key=lambda i: i.image_id):
        tags = [normalise_tag(tag) for tag in image.tags]
        named = sorted({tag[len(RELABEL_PREFIX):] for tag in tags if tag.startswith(RELABEL_PREFIX)})
        flagged_by = f" (in {', '.join(image.views)})" if image.views else ""
        unknown = [e for e in named if e not in by_name]
        if unknown:
            problems.append(f"{image.image_id}: tag 'relabel:{unknown[0]}' names no emotion of {', '.join(emotions)}")
            continue
        relabels = sorted({by_name[e] for e in named})
        excluded = EXCLUDE_TAG in tags
        if excluded and relabels:
            problems.append(f"{image.image_id}: tagged both 'exclude' and 'relabel:{relabels[0]}'")
            continue
        if len(relabels) > 1:
            problems.append(f"{image.image_id}: tagged with {len(relabels)} relabels ({', '.join(relabels)})")
            continue
        if excluded:
            exclude[image.image_id] = f"tagged 'exclude' in FiftyOne dataset {dataset_name!r}{flagged_by}"
        elif relabels:
            reason = f"tagged 'relabel:{relabels[0]}' in FiftyOne dataset {dataset_name!r}{flagged_by}"
            relabel[image.image_id] = (relabels[0], reason)
    if problems:
        raise UsageError(f"conflicting curation tags; fix them in the App: {'; '.join(problems)}")
    return CurationDecisions(exclude, relabel, source)


def tagged_images(dataset) -> list[TaggedImage]:
    """Images of a FiftyOne dataset carrying a curation tag, with the saved views they are in."""

    asking = [tag for tag in dataset.count_sample_tags() if is_curation_tag(tag)]
    if not asking:
        return []
    wanted = dataset.match_tags(asking)
    image_ids, tags = wanted.values(["image_id", "tags"])
    membership: dict[str, list[str]] = defaultdict(list)
    selected = set(image_ids)
    for name in dataset.list_saved_views():
        for image_id in dataset.load_saved_view(name).values("image_id"):
            if image_id in selected:
                membership[image_id].append(name)
    return [TaggedImage(i, tuple(t or ()), tuple(membership.get(i, ()))) for i, t in zip(image_ids, tags)]


def ignored_tags(dataset) -> dict[str, int]:
    """Tags of ``dataset`` that ask for no decision and are not split names, with how many images carry each."""
    from builder.curation.loader import INFO_KEY

    splits = set(dataset.info.get(INFO_KEY, {}).get("splits") or ()) | set(dataset.distinct("split") or ())
    return {tag: count for tag, count in dataset.count_sample_tags().items()
            if not is_curation_tag(tag) and tag not in splits}


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

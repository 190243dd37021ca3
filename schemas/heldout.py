"""The held-out emotion datasets: their label vocabularies, WEBEmo's 25 -> 7 -> 2 hierarchy, the polarity maps,
and the pandera schema of each dataset's sample table.

Every table has ``id`` (the image path relative to the dataset root, ``/``-separated), ``image`` (the absolute
path) and ``label`` (the gold label, by name, in the dataset's vocabulary), plus what the dataset ships:

============ ===================================================================================================
emotion6     ``valence``, ``arousal`` (Self-Assessment Manikin, 1-9) and ``prob_<class>`` for the six emotions
             and ``neutral`` (the 7-way distribution of ``ground_truth.txt``)
fi           nothing more
artphoto     nothing more
abstract     ``votes_<name>``: the eight vote counts of ``ABSTRACT_groundTruth.csv`` (its column names, lower case)
unbiasedemo  ``object``: the object folder between the emotion folder and the file (null when there is none)
twitter1     ``agree``: the agreement level of the label file read (5, 4 or 3)
webemo       ``url``, ``split`` (train/test), ``label7`` (the mid-level class) and ``polarity`` (null for
             surprise, which the polarity map leaves out)
============ ===================================================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and pandera load with the schema, so the vocabularies import fast (CLI choices)
    import pandas as pd
    import pandera.pandas as pa

#: The held-out datasets, by the name their reader and ``emovit synth --layout`` use.
DATASETS: tuple[str, ...] = ("emotion6", "fi", "artphoto", "abstract", "unbiasedemo", "twitter1", "webemo")

#: Mikels' eight emotions (FI, ArtPhoto, Abstract), alphabetical as EmoVIT's instruction lists them.
MIKELS: tuple[str, ...] = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
#: Emotion6's six folders (Ekman's basic emotions), and its ground truth's seven-way distribution (plus neutral).
EMOTION6: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "sadness", "surprise")
EMOTION6_DISTRIBUTION: tuple[str, ...] = (*EMOTION6, "neutral")
#: The column names of ``ABSTRACT_groundTruth.csv`` (in file order) and the Mikels emotion each one counts.
ABSTRACT_COLUMNS: tuple[str, ...] = ("Amusement", "Anger", "Awe", "Content", "Disgust", "Excitement", "Fear", "Sad")
ABSTRACT_TO_MIKELS: dict[str, str] = dict(zip(ABSTRACT_COLUMNS, MIKELS))
#: ArtPhoto's file-name prefixes and the emotion each names (``sad_`` files are sadness).
ARTPHOTO_PREFIXES: dict[str, str] = {**{name: name for name in MIKELS if name != "sadness"}, "sad": "sadness"}
#: UnBiasedEmo's six emotion folders.
UNBIASEDEMO: tuple[str, ...] = ("anger", "fear", "joy", "love", "sadness", "surprise")
#: Twitter I's two labels; its label files write 1 for positive and 0 for negative.
TWITTER: tuple[str, ...] = ("negative", "positive")
TWITTER_CODES: dict[str, str] = {"0": "negative", "1": "positive"}
#: Twitter I's label file per agreement level.
TWITTER_FILES: dict[int, str] = {5: "twitter_five_agrees.txt", 4: "twitter_four_agrees.txt",
                                 3: "twitter_three_agrees.txt"}

#: WEBEmo's 25 fine-grained classes, in the index order of ``train25.txt`` / ``test25.txt`` (index 0-24), with
#: the dataset's own spellings (``cheerfullness``, ``irritabilty``). The files carry only the index; this order
#: (alphabetical by these spellings) is the one every public WEBEmo loader we found uses: the WEBEmo
#: ``label_map`` of a visual-sentiment dataset config, the ``LABELS_25`` of CLIP-E inference scripts and the
#: ``label_dicts`` of a WEBEmo download script, whose comment ties each list position to the files' label index.
WEBEMO25: tuple[str, ...] = (
    "affection", "cheerfullness", "confusion", "contentment", "disappointment", "disgust", "enthrallment", "envy",
    "exasperation", "gratitude", "horror", "irritabilty", "lust", "neglect", "nervousness", "optimism", "pride",
    "rage", "relief", "sadness", "shame", "suffering", "surprise", "sympathy", "zest",
)
#: WEBEmo's seven mid-level classes (Parrott's primary emotions plus confusion, which is its own class).
WEBEMO7: tuple[str, ...] = ("anger", "confusion", "fear", "joy", "love", "sadness", "surprise")
#: 25 -> 7, after Parrott's emotion hierarchy as Panda et al. organise WEBEmo ("Contemplating Visual Emotions",
#: ECCV 2018, arXiv:1808.02212). The table is the one public loaders ship: a ``WEBEMO_25_TO_7`` table in a
#: WEBEmo/Emotion6/Abstract/ArtPhoto evaluation registry; the level-2 column of the download script's
#: ``label_dicts`` agrees on every class but confusion, which it folds into sadness while WEBEmo's seven
#: mid-level classes keep it apart.
WEBEMO_25_TO_7: dict[str, str] = {
    "affection": "love", "cheerfullness": "joy", "confusion": "confusion", "contentment": "joy",
    "disappointment": "sadness", "disgust": "anger", "enthrallment": "joy", "envy": "anger", "exasperation": "anger",
    "gratitude": "love", "horror": "fear", "irritabilty": "anger", "lust": "love", "neglect": "sadness",
    "nervousness": "fear", "optimism": "joy", "pride": "joy", "rage": "anger", "relief": "joy", "sadness": "sadness",
    "shame": "sadness", "suffering": "sadness", "surprise": "surprise", "sympathy": "sadness", "zest": "joy",
}
#: The polarity maps of the two-way tasks. Mikels: amusement, awe, contentment, excitement positive (as EmoSet
#: reports it). UnBiasedEmo / WEBEmo: joy and love positive; anger, fear, sadness and (WEBEmo) confusion
#: negative — the download script above marks confusion negative too; surprise has no polarity (``None``): it is
#: left out of two-way scoring, since neither dataset labels a surprising image positive or negative.
MIKELS_POLARITY: dict[str, str] = {
    "amusement": "positive", "awe": "positive", "contentment": "positive", "excitement": "positive",
    "anger": "negative", "disgust": "negative", "fear": "negative", "sadness": "negative",
}
WEBEMO7_POLARITY: dict[str, str | None] = {
    "joy": "positive", "love": "positive", "anger": "negative", "confusion": "negative", "fear": "negative",
    "sadness": "negative", "surprise": None,
}
POLARITIES: tuple[str, ...] = ("positive", "negative")

#: Gold labels of each dataset's table.
LABELS: dict[str, tuple[str, ...]] = {
    "emotion6": EMOTION6, "fi": MIKELS, "artphoto": MIKELS, "abstract": MIKELS, "unbiasedemo": UNBIASEDEMO,
    "twitter1": TWITTER, "webemo": WEBEMO25,
}
#: Emotion6's Self-Assessment Manikin scale.
SAM_RANGE: tuple[float, float] = (1.0, 9.0)
#: How far a probability distribution may sum from 1 (the file rounds to six significant digits).
DISTRIBUTION_TOLERANCE = 1e-3


def prob_column(name: str) -> str:
    """The table column of one Emotion6 probability (``prob_anger`` ...)."""
    return f"prob_{name}"


def votes_column(name: str) -> str:
    """The table column of one Abstract vote count (``votes_amusement`` ... ``votes_content`` ... ``votes_sad``)."""
    return f"votes_{name.lower()}"


def _isin(labels, name: str, *, nullable: bool = False) -> pa.Check:
    import pandera.pandas as pa

    allowed = sorted(labels)
    if nullable:
        return pa.Check(lambda s: s.isna() | s.isin(allowed), ignore_na=False, name=f"in_{name}_vocabulary")
    return pa.Check.isin(allowed, name=f"in_{name}_vocabulary")


def _base(dataset: str) -> dict[str, pa.Column]:
    import pandera.pandas as pa

    return {
        "id": pa.Column(str, pa.Check.str_length(min_value=1), unique=True, report_duplicates="exclude_first"),
        "image": pa.Column(str, pa.Check.str_length(min_value=1)),
        "label": pa.Column(str, _isin(LABELS[dataset], f"{dataset}_label")),
    }


def _sums_to_one(frame: pd.DataFrame) -> pd.Series:
    total = frame[[prob_column(n) for n in EMOTION6_DISTRIBUTION]].sum(axis=1)
    return (total - 1.0).abs() <= DISTRIBUTION_TOLERANCE


def _has_votes(frame: pd.DataFrame) -> pd.Series:
    return frame[[votes_column(n) for n in ABSTRACT_COLUMNS]].sum(axis=1) > 0


def _label7_matches(frame: pd.DataFrame) -> pd.Series:
    return frame["label"].map(WEBEMO_25_TO_7) == frame["label7"]


def _polarity_matches(frame: pd.DataFrame) -> pd.Series:
    expected = frame["label7"].map(WEBEMO7_POLARITY)
    return (expected.isna() & frame["polarity"].isna()) | (expected == frame["polarity"])


def heldout_schema(dataset: str) -> pa.DataFrameSchema:
    """The schema of ``dataset``'s sample table (strict: no other columns; no coercion)."""
    import pandera.pandas as pa

    if dataset not in DATASETS:
        raise ValueError(f"unknown held-out dataset {dataset!r}; known: {', '.join(DATASETS)}")
    columns = _base(dataset)
    checks: list[pa.Check] = []
    if dataset == "emotion6":
        low, high = SAM_RANGE
        columns["valence"] = pa.Column(float, pa.Check.in_range(low, high))
        columns["arousal"] = pa.Column(float, pa.Check.in_range(low, high))
        for name in EMOTION6_DISTRIBUTION:
            columns[prob_column(name)] = pa.Column(float, pa.Check.in_range(0.0, 1.0))
        checks.append(pa.Check(_sums_to_one, name="distribution_sums_to_1"))
    elif dataset == "abstract":
        for name in ABSTRACT_COLUMNS:
            columns[votes_column(name)] = pa.Column(int, pa.Check.ge(0))
        checks.append(pa.Check(_has_votes, name="at_least_one_vote"))
    elif dataset == "unbiasedemo":
        columns["object"] = pa.Column(str, nullable=True)
    elif dataset == "twitter1":
        columns["agree"] = pa.Column(int, pa.Check.isin(sorted(TWITTER_FILES)))
    elif dataset == "webemo":
        columns["url"] = pa.Column(str, pa.Check.str_length(min_value=1))
        columns["split"] = pa.Column(str, pa.Check.isin(["train", "test"]))
        columns["label7"] = pa.Column(str, _isin(WEBEMO7, "webemo7"))
        columns["polarity"] = pa.Column(str, _isin(POLARITIES, "polarity", nullable=True), nullable=True)
        checks += [pa.Check(_label7_matches, name="label7_is_the_hierarchy_parent"),
                   pa.Check(_polarity_matches, name="polarity_follows_the_polarity_map")]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, coerce=False, name=f"heldout_{dataset}")


__all__ = [
    "ABSTRACT_COLUMNS",
    "ABSTRACT_TO_MIKELS",
    "ARTPHOTO_PREFIXES",
    "DATASETS",
    "EMOTION6",
    "EMOTION6_DISTRIBUTION",
    "LABELS",
    "MIKELS",
    "MIKELS_POLARITY",
    "POLARITIES",
    "TWITTER",
    "TWITTER_CODES",
    "TWITTER_FILES",
    "UNBIASEDEMO",
    "WEBEMO7",
    "WEBEMO7_POLARITY",
    "WEBEMO25",
    "WEBEMO_25_TO_7",
    "heldout_schema",
    "prob_column",
    "votes_column",
]

"""The text an instruction generator sees for one image: its caption plus its attribute lines.

The same rendering feeds the LLM prompts (and therefore the response-cache key) and the in-context
examples, so it must stay deterministic. Bump :data:`CONTEXT_VERSION` whenever the format changes: it is
part of every prompt version hash.

Example::

    caption: a dog running along a beach
    emotion: contentment
    brightness: 0.7 (bright)
    colorfulness: 0.4 (muted)
    scene: beach
    object: [Dog, Ball]
    facial_expression: happy
    human_action: walking the dog

Missing attributes are left out; ``scene`` is included (EmoVIT's original code omitted it).
"""

from __future__ import annotations

from builder.sources.records import SourceRecord

#: Version of the rendering below; part of every prompt version.
CONTEXT_VERSION = "context-v1"

# Upper bounds (inclusive, on the 0.1 grid) and the words used for them.
_BRIGHTNESS_WORDS: tuple[tuple[float, str], ...] = (
    (0.2, "very dark"), (0.4, "dim"), (0.6, "moderately lit"), (0.8, "bright"), (1.0, "very bright"),
)
_COLORFULNESS_WORDS: tuple[tuple[float, str], ...] = (
    (0.2, "nearly monochrome"), (0.4, "muted"), (0.6, "moderately colourful"), (0.8, "colourful"),
    (1.0, "vivid"),
)


def _level_word(value: float, table: tuple[tuple[float, str], ...]) -> str:
    for bound, word in table:
        if value <= bound + 1e-9:
            return word
    return table[-1][1]


def brightness_word(value: float) -> str:
    """A word for a brightness level on EmoSet's 0 (darkest) to 1 (brightest) scale."""
    return _level_word(value, _BRIGHTNESS_WORDS)


def colorfulness_word(value: float) -> str:
    """A word for a colourfulness level on EmoSet's 0 (black and white) to 1 (most colourful) scale."""
    return _level_word(value, _COLORFULNESS_WORDS)


def readable_scene(scene: str) -> str:
    """A Places365 scene name as words: ``amusement_park`` -> ``amusement park``."""
    return " ".join(scene.replace("_", " ").replace("/", " ").split())


_MASS_NOUNS = frozenset({"food", "tea", "coffee", "water", "grass", "snow", "fire", "smoke", "bread", "sand"})


def with_article(noun: str) -> str:
    """``noun`` with "a"/"an" in front (mass nouns such as "water" take none)."""
    if noun.lower() in _MASS_NOUNS:
        return noun
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def noun_list(nouns) -> str:
    """Lower-cased nouns with articles, joined as "a, b and c" (empty for no nouns)."""
    words = [with_article(noun.lower()) for noun in nouns]
    return words[0] if len(words) == 1 else (f"{', '.join(words[:-1])} and {words[-1]}" if words else "")


def render_context(record: SourceRecord, caption: str) -> str:
    """Caption plus attribute lines for ``record``; missing attributes are omitted."""
    lines = [f"caption: {' '.join(caption.split())}", f"emotion: {record.emotion}"]
    if record.brightness is not None:
        lines.append(f"brightness: {record.brightness:.1f} ({brightness_word(record.brightness)})")
    if record.colorfulness is not None:
        lines.append(f"colorfulness: {record.colorfulness:.1f} ({colorfulness_word(record.colorfulness)})")
    if record.scene:
        lines.append(f"scene: {readable_scene(record.scene)}")
    if record.objects:
        lines.append(f"object: [{', '.join(record.objects)}]")
    if record.facial_expression:
        lines.append(f"facial_expression: {record.facial_expression}")
    if record.human_action:
        lines.append(f"human_action: {record.human_action}")
    return "\n".join(lines)

"""lmms-eval task functions for an emovit emotion task (copied as ``utils.py`` by
``emovit export --format lmms-eval``).

Self-contained on purpose: lmms-eval imports this file without emovit installed. Every document of the task's
parquet file holds ``image``, ``question`` (EmoVIT's categorical instruction), ``options`` (the candidate
labels) and ``answer`` (the gold label). The answer is read by emovit's rules, which never guess:

0. a reasoning answer (``<think>...</think>`` then the answer) is read after its last closing tag only, inside
   a final ``<answer>...</answer>`` when there is one; a reasoning block that never closes is a failure
   (**unclosed_reasoning**);
1. **exact**: the whole answer is ``Predict emotion: <label>`` (case and surrounding spaces ignored, one final
   ``.`` or ``!`` allowed);
2. **single_label**: exactly one distinct candidate label occurs as a whole word (it may repeat);
3. anything else (no label, or two different labels) is a **failure**: it counts as wrong; no label is
   picked for the model.

``process_results`` reports ``accuracy`` and ``parse_failure`` per document; the task YAML averages both.
"""

import re

#: The answer format of the categorical instruction.
ANSWER_PREFIX = "Predict emotion:"
PARSE_RULES = ("exact", "single_label", "failure", "unclosed_reasoning")
_OPEN = re.compile(r"<\s*(?:think|thinking|reasoning)\s*>", re.IGNORECASE)
_CLOSE = re.compile(r"<\s*/\s*(?:think|thinking|reasoning)\s*>", re.IGNORECASE)
_ANSWER = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)


def _alternation(labels):
    # longest first, so a label that is a prefix of another never shadows it
    return "|".join(re.escape(label.lower()) for label in sorted(labels, key=len, reverse=True))


def _canonical(word, labels):
    return next(label for label in labels if label.lower() == word)


def parse_answer(text, labels):
    """``(label or None, rule)`` for a free-text answer (see the module docstring)."""
    closes = list(_CLOSE.finditer(text))
    text = text[closes[-1].end():] if closes else text
    if _OPEN.search(text):
        return None, "unclosed_reasoning"
    wrapped = _ANSWER.findall(text)
    lowered = (wrapped[-1] if wrapped else text).lower()
    alternation = _alternation(labels)
    prefix = re.escape(ANSWER_PREFIX.lower().rstrip(":"))
    exact = re.fullmatch(rf"\s*{prefix}\s*:\s*({alternation})\s*[.!]?\s*", lowered)
    if exact:
        return _canonical(exact.group(1), labels), "exact"
    found = {m.group(1) for m in re.finditer(rf"(?<!\w)({alternation})(?!\w)", lowered)}
    if len(found) == 1:
        return _canonical(found.pop(), labels), "single_label"
    return None, "failure"


def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {}
    return f"{kwargs.get('pre_prompt', '')}{doc['question']}{kwargs.get('post_prompt', '')}"


def doc_to_target(doc):
    return doc["answer"]


def process_results(doc, results):
    answer = results[0] if results else ""
    label, _ = parse_answer(answer if isinstance(answer, str) else "", list(doc["options"]))
    return {"accuracy": float(label is not None and label == doc["answer"]), "parse_failure": float(label is None)}

"""What every scorer implements, and the likelihood-ranking machinery the language-model families share.

A scorer wraps one loaded model of one family and answers two questions for a batch of images, each asked its
own instruction:

* :meth:`Scorer.rank` — a score per candidate answer (higher is better), with the number of scored tokens
  when the score is a summed log-likelihood;
* :meth:`Scorer.generate` — the free-text greedy answer.

:class:`emovit_model.scoring.EmotionClassifier` turns those into labels (argmax, answer parsing); it owns the
batching, the candidate answers and the label set, so a scorer holds no state that depends on them except
caches keyed by them.

Ranking on a language model shares the prompt across the candidates (:func:`score_candidates`): the prompt
(image tokens and question), extended by the tokens every candidate answer starts with (``Predict
emotion:``), runs once per image with its key/value cache kept, left-padded so every prompt ends in the last
column; only the differing tails of the candidates then run on that cache. Same log-likelihoods as scoring
every ``prompt + answer`` row in full, at a fraction of the cost.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class ScorerOptions:
    """Options a model entry may give a scorer (each family reads the ones it understands).

    Args:
        normalise: apply EmoVIT's original text normalisation to the instruction.
        prompt_template: a plain prompt string with ``{instruction}`` replacing the family's prompt (and, for
            chat-template models, the chat template).
        chat_template: a Jinja chat template replacing the processor's own (chat-template models).
        max_prompt_tokens: LLM prompt budget of the InstructBLIP collator (LAVIS ``max_txt_len``).
    """

    normalise: bool = False
    prompt_template: str | None = None
    chat_template: str | None = None
    max_prompt_tokens: int = 128


@dataclass(frozen=True)
class Candidates:
    """What :meth:`Scorer.rank` ranks: one candidate per label, as an answer text and (for CLIP) prompts."""

    labels: tuple[str, ...]
    answers: tuple[str, ...]
    clip_prompts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranking:
    """Scores of a batch, ``[images, labels]``; ``counts`` are the scored tokens of each candidate (``None``
    when a score is not a summed log-likelihood, e.g. CLIP's similarity)."""

    scores: object
    counts: object | None = None


class Scorer:
    """One model family's way to rank candidate answers and generate a free answer.

    Subclasses set :attr:`family` and implement :meth:`prompt`, :meth:`rank` and :meth:`generate`.
    ``local`` scorers run a torch model: the classifier hands them images in batches of ``batch_size``,
    decoded to RGB, in eval mode with gradients off and the model's autocast on. Others (API models) get every
    image at once, as given.
    """

    family: ClassVar[str] = ""
    local: ClassVar[bool] = True
    #: Whether the model writes free text (CLIP does not: the classifier answers with its best-ranked label).
    decodes: ClassVar[bool] = True

    def __init__(self, model, processor, options: ScorerOptions | None = None) -> None:
        self.model = model
        self.processor = processor
        self.options = options or ScorerOptions()

    @property
    def device(self):
        return next(self.model.parameters()).device

    def text(self, instruction: str) -> str:
        """The instruction as the model reads it (normalised when the options say so)."""
        from schemas.protocol import normalise_text

        return normalise_text(instruction) if self.options.normalise else instruction

    def prompt(self, instruction: str) -> str:
        """The text given to the model before the answer."""
        raise NotImplementedError

    def rank(self, images, instructions: list[str], candidates: Candidates) -> Ranking:
        raise NotImplementedError

    def generate(self, images, instructions: list[str], max_new_tokens: int) -> list[str]:
        raise NotImplementedError

    def usage(self) -> dict | None:
        """Requests, tokens and cost so far (API models); ``None`` for local models."""
        return None


# --------------------------------------------------------------------------------------------- torch helpers
def vision_dtype(model):
    """The dtype of the vision tower's weights (what ``pixel_values`` should be cast to)."""
    for name, param in model.named_parameters():
        if "vision" in name and param.is_floating_point():
            return param.dtype
    return next(model.parameters()).dtype


def autocast_for(model):
    """Autocast to the model's half precision when it mixes half-precision towers with fp32 trainable parts
    (as :func:`emovit_model.model.load_emovit` loads it on a GPU); nothing for a single-dtype model."""
    import torch

    device = next(model.parameters()).device
    dtypes = {p.dtype for p in model.parameters() if p.is_floating_point()}
    half = [d for d in (torch.bfloat16, torch.float16) if d in dtypes]
    if half and torch.float32 in dtypes:
        return torch.autocast(device.type, dtype=half[0])
    return contextlib.nullcontext()


def left_padded(ids, mask, pad_id: int):
    """Right-padded ``(ids, mask)`` moved to the left, so every row ends in the last column."""
    import torch

    lengths = mask.sum(1).tolist()
    width = ids.shape[1]
    left_ids, left_mask = torch.full_like(ids, pad_id), torch.zeros_like(mask)
    for i, n in enumerate(lengths):
        left_ids[i, width - n:] = ids[i, :n]
        left_mask[i, width - n:] = 1
    return left_ids, left_mask


def shared_start(answers) -> list[int]:
    """The token ids every candidate answer of every row starts with, keeping at least one token per answer."""
    flat = [ids for per_row in answers for ids in per_row]
    shared = []
    for position in range(min(len(ids) for ids in flat) - 1):
        token = flat[0][position]
        if any(ids[position] != token for ids in flat):
            break
        shared.append(token)
    return shared


def positions(mask):
    """Position ids of left-padded rows (0 at each row's first real token)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def extend(inputs: dict, shared: list[int]) -> dict:
    """``inputs`` with the ``shared`` answer tokens appended to every row's ``input_ids`` and mask (and to
    ``token_type_ids``/``mm_token_type_ids`` as text, where the processor gives them)."""
    import torch

    rows = inputs["input_ids"].shape[0]
    out = dict(inputs)
    tail = torch.tensor([shared] * rows, dtype=inputs["input_ids"].dtype).view(rows, -1)
    out["input_ids"] = torch.cat([inputs["input_ids"], tail], dim=1)
    for name, fill in (("attention_mask", 1), ("token_type_ids", 0), ("mm_token_type_ids", 0)):
        if name in inputs:
            extra = torch.full((rows, len(shared)), fill, dtype=inputs[name].dtype)
            out[name] = torch.cat([inputs[name], extra], dim=1)
    return out


def score_candidates(logits, shared, past, prefix_mask, tails, continuation, pad_id: int, *,
                     start_positions=None):
    """Summed log-probabilities ``[images, candidates]`` (and token counts) of every candidate
    ``shared + tails[i][k]``.

    ``logits`` are the prefix's last ``len(shared) + 1`` positions: those predicting each shared token and
    the first tail token. The rest of each tail runs on the prefix cache ``past`` through ``continuation``
    (the model, or its language model), one candidate at a time, and the cache is cut back to the prefix
    after each (never copied: a 7B model's cache of 600 image and prompt tokens is ~300 MB per image).
    The tail tokens of row ``i`` take positions ``start_positions[i]``, ``start_positions[i] + 1`` ...; by
    default each row's count of prefix tokens (a left-padded row's next position). Models with multimodal rotary
    positions (Qwen2-VL ...) give the position after their prefix's largest one instead.
    """
    import torch

    device = logits.device
    count = len(tails[0])
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    common = torch.zeros(logits.shape[0], device=device)
    for position, token in enumerate(shared):
        common = common + logprobs[:, position, token]
    totals, counts = [], []
    if hasattr(past, "activate_past_recording"):  # sliding-window layers (Gemma 3) keep what a crop takes back
        past.activate_past_recording()
    for k in range(count):  # one candidate at a time on the same cache, cut back after each: no copies
        candidate = [per_image[k] for per_image in tails]
        length = max(len(ids) for ids in candidate)
        tokens = torch.full((len(candidate), length), pad_id, dtype=torch.long, device=device)
        present = torch.zeros_like(tokens)
        for row, ids in enumerate(candidate):
            tokens[row, : len(ids)] = torch.tensor(ids, device=device)
            present[row, : len(ids)] = 1
        total = common + logprobs[:, -1].gather(-1, tokens[:, :1]).squeeze(-1)
        if length > 1:
            attention = torch.cat([prefix_mask, present[:, :-1]], dim=1)
            start = prefix_mask.sum(1, keepdim=True) if start_positions is None else start_positions
            out = continuation(input_ids=tokens[:, :-1], attention_mask=attention, past_key_values=past,
                               use_cache=True, position_ids=start + torch.arange(length - 1, device=device))
            past.crop(-(length - 1))  # negative: drop the tokens just added (old and new transformers)
            later = torch.log_softmax(out.logits.float(), dim=-1)
            later = later.gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1)
            total = total + (later * present[:, 1:]).sum(-1)
        totals.append(total)
        counts.append(present.sum(-1) + len(shared))
    return torch.stack(totals, dim=1), torch.stack(counts, dim=1)


def decode_new(tokenizer, out, prompt_ids) -> list[str]:
    """The generated text of each row, without the prompt (when ``generate`` echoes it) and special tokens, but
    with reasoning tags (``<think>``, ``</think>``) kept where a tokenizer marks them special: the parser needs
    them to find the answer after the reasoning."""
    import torch

    from schemas.protocol import is_reasoning_tag

    width = prompt_ids.shape[1]
    echoed = out.shape[1] > width and torch.equal(out[:, :width].cpu(), prompt_ids.cpu())
    new = out[:, width:] if echoed else out
    special = set(tokenizer.all_special_ids) | {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    dropped = {i for i in special if not is_reasoning_tag(tokenizer.convert_ids_to_tokens(i) or "")}
    rows = [[i for i in row if i not in dropped] for row in new.tolist()]
    return [text.strip() for text in tokenizer.batch_decode(rows, skip_special_tokens=False)]


__all__ = ["Candidates", "Ranking", "Scorer", "ScorerOptions", "autocast_for", "decode_new", "extend",
           "left_padded", "positions", "score_candidates", "shared_start", "vision_dtype"]

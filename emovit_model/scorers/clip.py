"""CLIP zero-shot: the scaled cosine similarity of the image and each label's prompt-ensembled text embedding.

Each label's text embedding is the re-normalised mean of the normalised embeddings of its prompt sentences
(:data:`CLIP_PROMPTS` by default). CLIP has no decoder: its generated answer is its best-ranked label
written as the categorical answer, so for CLIP generation equals ranking; the classifier does that.
"""

from __future__ import annotations

from emovit_model.scorers.base import Candidates, Ranking, Scorer, vision_dtype

#: CLIP zero-shot prompts: the first is the one emotion papers report, the others are paraphrases that name
#: the label in the same slot.
CLIP_PROMPTS: tuple[str, ...] = (
    "a photo that evokes {label}",
    "an image that makes the viewer feel {label}",
    "a picture conveying a sense of {label}",
    "a photograph whose mood is {label}",
)


def _pooled(output):
    """The pooled (projected) embedding of a CLIP ``get_*_features`` result (a tensor or a model output)."""
    return getattr(output, "pooler_output", output)


class ClipScorer(Scorer):
    """Rank by image-text similarity with ``CLIPModel``; the instruction is not used."""

    family = "clip"
    decodes = False

    def __init__(self, model, processor, options=None) -> None:
        super().__init__(model, processor, options)
        self._text: dict[tuple, object] = {}

    def prompt(self, instruction: str) -> str:
        return (self.options.prompt_template or "{instruction}").format(instruction=self.text(instruction))

    def text_embeddings(self, labels: tuple[str, ...], prompts: tuple[str, ...]):
        """One normalised text embedding per label: the re-normalised mean over ``prompts``."""
        import torch

        key = (tuple(labels), tuple(prompts))
        if key not in self._text:
            sentences = [prompt.format(label=label) for label in labels for prompt in prompts]
            inputs = self.processor.tokenizer(sentences, padding=True, truncation=True, return_tensors="pt")
            with torch.no_grad():
                embeds = _pooled(self.model.get_text_features(
                    input_ids=inputs["input_ids"].to(self.device),
                    attention_mask=inputs["attention_mask"].to(self.device))).float()
            embeds = torch.nn.functional.normalize(embeds, dim=-1)
            embeds = embeds.view(len(labels), len(prompts), -1).mean(1)
            self._text[key] = torch.nn.functional.normalize(embeds, dim=-1)
        return self._text[key]

    def rank(self, images, instructions, candidates: Candidates) -> Ranking:
        import torch

        text = self.text_embeddings(candidates.labels, candidates.clip_prompts or CLIP_PROMPTS)
        pixel_values = self.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        image = _pooled(self.model.get_image_features(
            pixel_values=pixel_values.to(self.device, dtype=vision_dtype(self.model)))).float()
        image = torch.nn.functional.normalize(image, dim=-1)
        return Ranking(self.model.logit_scale.exp().float() * image @ text.T)

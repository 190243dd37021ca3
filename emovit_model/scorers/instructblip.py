"""InstructBLIP and EmoVIT (InstructBLIP with a trained Q-Former): prompts encoded exactly as in training.

The LLM prompt and the Q-Former text come from :class:`emovit_model.collators.instructblip.EmoVITCollator` (query
placeholders, BOS + instruction; the Q-Former reads the instruction), and candidate answers are tokenised as
training tokenises targets (answer tokens, then EOS; LAVIS's layout), so a ranked answer's score is minus the
training loss over it. Image features run once per image: the Q-Former output replaces the query
placeholders in the LLM's input embeddings.
"""

from __future__ import annotations

from emovit_model.scorers.base import (
    Candidates,
    Ranking,
    Scorer,
    left_padded,
    positions,
    score_candidates,
    shared_start,
    vision_dtype,
)


class InstructBlipScorer(Scorer):
    """Rank and generate with ``InstructBlipForConditionalGeneration`` (zero-shot InstructBLIP or EmoVIT)."""

    family = "instructblip"

    def __init__(self, model, processor, options=None) -> None:
        super().__init__(model, processor, options)
        from emovit_model.collators.instructblip import EmoVITCollator

        self.collator = EmoVITCollator(processor, max_prompt_tokens=self.options.max_prompt_tokens,
                                       normalise=self.options.normalise,
                                       num_query_tokens=model.config.num_query_tokens)

    def prompt(self, instruction: str) -> str:
        return self.collator.prompt_text(instruction)

    def _features(self, images, text):
        collator, model = self.collator, self.model
        pixel_values = collator.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        features = model.get_image_features(
            pixel_values.to(self.device, dtype=vision_dtype(model)),
            qformer_input_ids=text["qformer_input_ids"].to(self.device),
            qformer_attention_mask=text["qformer_attention_mask"].to(self.device),
            return_dict=True,
        )
        return getattr(features, "pooler_output", features)

    def rank(self, images, instructions, candidates: Candidates) -> Ranking:
        import torch

        collator, model = self.collator, self.model
        text = collator.encode_text(instructions)
        answers = [collator.answer_ids(answer) for answer in candidates.answers]
        shared = shared_start([answers])
        ids, mask = left_padded(text["input_ids"], text["attention_mask"], collator.pad_token_id)
        rows = len(images)
        ids = torch.cat([ids, torch.tensor([shared] * rows, dtype=ids.dtype).view(rows, -1)], dim=1)
        mask = torch.cat([mask, torch.ones((rows, len(shared)), dtype=mask.dtype)], dim=1)
        query = self._features(images, text)
        ids, mask = ids.to(self.device), mask.to(self.device)
        embeds = model.get_input_embeddings()(ids)
        image = (ids == model.config.image_token_id).unsqueeze(-1)
        embeds = embeds.masked_scatter(image, query.to(embeds.dtype))
        out = model.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=positions(mask),
                                   use_cache=True, logits_to_keep=len(shared) + 1)
        tails = [[a[len(shared):] for a in answers]] * rows
        totals, counts = score_candidates(out.logits, shared, out.past_key_values, mask, tails, model.language_model,
                                          collator.pad_token_id)
        return Ranking(totals, counts)

    def generation_inputs(self, images, instructions) -> dict:
        """What ``model.generate`` gets: left-padded prompts as in training, pixels and Q-Former text."""
        collator = self.collator
        batch = collator.encode_text(instructions)
        left_ids, left_mask = left_padded(batch["input_ids"], batch["attention_mask"], collator.pad_token_id)
        pixel_values = collator.processor.image_processor(images, return_tensors="pt")["pixel_values"]
        inputs = {"input_ids": left_ids, "attention_mask": left_mask, "pixel_values": pixel_values,
                  "qformer_input_ids": batch["qformer_input_ids"],
                  "qformer_attention_mask": batch["qformer_attention_mask"]}
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        inputs["pixel_values"] = inputs["pixel_values"].to(vision_dtype(self.model))
        return inputs

    def generate(self, images, instructions, max_new_tokens: int) -> list[str]:
        from emovit_model.scorers.base import decode_new

        inputs = self.generation_inputs(images, instructions)
        tokenizer = self.processor.tokenizer
        out = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                  pad_token_id=tokenizer.pad_token_id)
        return decode_new(tokenizer, out, inputs["input_ids"])

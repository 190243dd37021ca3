"""Chat-template vision-language models: any ``AutoModelForImageTextToText`` checkpoint whose processor carries a
chat template (LLaVA-1.5, LLaVA-NeXT, LLaVA-OneVision, Idefics3 / SmolVLM, Gemma 3, Qwen2-VL / Qwen2.5-VL ...).

The prompt is the checkpoint's own: ``processor.apply_chat_template`` over one user turn holding the image and
the instruction, with the generation prompt on (LLaVA-1.5's llava-hf template gives ``USER: <image>\\n...
ASSISTANT:``). A candidate answer continues the prompt the way the template writes an assistant turn, up to
and including its end-of-turn token (``<end_of_turn>`` for Gemma, ``<end_of_utterance>`` for Idefics3,
``<|im_end|>`` for Qwen); templates that close a turn with plain text (llava-hf's) end the answer with the
tokenizer's EOS, the token generation stops at. A model entry may override the template
(``options.chat_template``, Jinja) or bypass it with a plain ``options.prompt_template``.
"""

from __future__ import annotations

from emovit_model.scorers.lm import ProcessorScorer
from schemas.errors import UsageError

#: Stands in for the answer when reading how the template writes an assistant turn.
_SENTINEL = "\u2063ANSWER\u2063"


def rope_index_module(model):
    """The module that computes multimodal rotary positions from the whole input (Qwen2-VL's M-RoPE: a
    ``get_rope_index`` method), or ``None`` for models whose positions simply count tokens."""
    return next((module for module in (model, getattr(model, "model", None))
                 if module is not None and hasattr(module, "get_rope_index")), None)


class ChatTemplateScorer(ProcessorScorer):
    """Rank and generate with an image-text-to-text model through its processor's chat template."""

    family = "vlm"

    def __init__(self, model, processor, options=None) -> None:
        super().__init__(model, processor, options)
        template = self.options.chat_template or getattr(processor, "chat_template", None)
        if not template and not self.options.prompt_template:
            name = getattr(model, "name_or_path", "") or model.config.model_type
            raise UsageError(f"{name}: the processor has no chat template; give the model entry "
                             "options.chat_template (Jinja) or options.prompt_template ('... {instruction} ...')")
        self.rope_index = rope_index_module(model)
        self._turn: tuple[str, str] | None = None
        self._prompts: dict[str, str] = {}

    def prefix_positions(self, inputs: dict):
        """Multimodal rotary positions (M-RoPE) where the model has them: each image's tokens placed on its own
        ``image_grid_thw`` grid (temporal, height, width), text counting on after the largest position of what
        precedes it, left padding skipped, computed per row by the model's own ``get_rope_index``; the answer
        continues after the prompt's largest position. Other models count tokens."""
        if self.rope_index is None:
            return super().prefix_positions(inputs)
        mask = inputs["attention_mask"]
        position_ids, deltas = self.rope_index.get_rope_index(
            inputs["input_ids"], mm_token_type_ids=inputs["mm_token_type_ids"],
            image_grid_thw=inputs.get("image_grid_thw"), attention_mask=mask)
        return position_ids, mask.sum(1, keepdim=True) + deltas.to(mask.device)

    def image_batch(self, images) -> list:
        """One list of images per prompt (each prompt asks about one image): processors that group images by
        prompt (Idefics3, Gemma 3) need it, and the others flatten it."""
        return [[image] for image in images]

    def messages(self, instruction: str, answer: str | None = None) -> list[dict]:
        """One user turn (the image, then the instruction), and the assistant's answer when given."""
        turns = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]
        if answer is not None:
            turns.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        return turns

    def render(self, messages: list[dict], *, generation_prompt: bool) -> str:
        return self.processor.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=False,
                                                  chat_template=self.options.chat_template)

    def prompt(self, instruction: str) -> str:
        if self.options.prompt_template:
            return self.options.prompt_template.format(instruction=self.text(instruction))
        if instruction not in self._prompts:  # rendered once per distinct instruction
            self._prompts[instruction] = self.render(self.messages(self.text(instruction)), generation_prompt=True)
        return self._prompts[instruction]

    def assistant_turn(self) -> tuple[str, str]:
        """``(before, after)``: what the template writes between the generation prompt and the answer, and the
        token that ends the answer (the template's end-of-turn special token, else the tokenizer's EOS)."""
        if self._turn is None:
            tokenizer = self.tokenizer
            eos = tokenizer.eos_token or ""
            asked = self.render(self.messages("?"), generation_prompt=True)
            answered = self.render(self.messages("?", _SENTINEL), generation_prompt=False)
            if not answered.startswith(asked) or _SENTINEL not in answered[len(asked):]:
                self._turn = ("" if asked[-1:].isspace() else " ", eos)
            else:
                before, _, after = answered[len(asked):].partition(_SENTINEL)
                after = after.lstrip(" ")
                known = set(tokenizer.all_special_tokens) | {
                    token.content for token in tokenizer.added_tokens_decoder.values() if token.special}
                special = sorted((t for t in known if t and after.startswith(t)), key=len)
                self._turn = (before, special[-1] if special else eos)
        return self._turn

    def generate(self, images, instructions, max_new_tokens: int) -> list[str]:
        """Greedy answers as the model's turn reads: where the template opens a reasoning block for the model
        (``<think>`` at the end of Qwen3-VL Thinking's generation prompt), the answer starts with it, so that an
        answer cut off inside its reasoning stays recognisable as such."""
        from schemas.protocol import opened_reasoning

        texts = super().generate(images, instructions, max_new_tokens)
        return [opened_reasoning(self.prompt(i)) + text for i, text in zip(instructions, texts)]

    def continuation(self, prompt: str, answer: str) -> str:
        if self.options.prompt_template:
            return super().continuation(prompt, answer)
        before, end = self.assistant_turn()
        return f"{before}{answer}{end}"

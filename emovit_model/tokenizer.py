"""An offline tokenizer for the tiny-model zoo.

A byte-level BPE tokenizer is trained in memory (``tokenizers`` library, no download) over a small built-in
corpus: the categorical protocol instruction (verbatim and in EmoVIT's normalised form), the eight answers,
attribute lines as the generation prompts write them, and a few paragraphs of everyday English. Byte-level
BPE never produces an unknown token, so any instruction text (conversation or reasoning samples included)
round-trips through it.

The vocabulary starts with the special tokens at fixed ids (see :data:`SPECIAL_TOKENS`), so tiny model
configs can name them by id. Training is deterministic: the same corpus gives the same vocabulary and merges.
"""

from __future__ import annotations

from schemas.protocol import (
    ALPHABETICAL_EMOTIONS,
    CATEGORICAL_INSTRUCTION,
    categorical_answer,
    normalise_text,
)

#: Special tokens and their ids in every zoo tokenizer.
PAD, BOS, EOS, UNK, IMAGE = "<pad>", "<s>", "</s>", "<unk>", "<image>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK, IMAGE)
PAD_ID, BOS_ID, EOS_ID, UNK_ID, IMAGE_ID = range(len(SPECIAL_TOKENS))

_ENGLISH = """
The picture shows a quiet street at dusk with warm lights in the windows and people walking home.
A child is laughing at a small dog that jumps into a pile of leaves in the park.
Tall mountains rise above a frozen lake and the sky is clear and very blue.
Someone sits alone on a bench in the rain, holding an umbrella and looking down at the ground.
The crowd in the stadium is cheering loudly as the players run across the bright green field.
An old house stands at the end of a dark corridor, and a shadow moves behind the door.
What is the person doing in this image? Why might the scene make a viewer feel this way?
How many people can you see, and what colour is the car parked next to the building?
The image conveys a feeling of calm because the colours are soft and the light is gentle.
The scene feels tense: the sky is dark, the trees are bare, and nobody else is around.
There is a cake on the table with candles, balloons near the window and friends smiling together.
Rubbish lies on the floor of the kitchen, and insects crawl over food left out for days.
The angry man shouts at the driver while other cars wait behind them in the traffic.
A tired woman hugs her friend at the station before the train leaves, and both of them are crying.
This is a photo of a beautiful waterfall in a green forest, with birds flying above the water.
Bright colours, strong contrast and fast movement suggest energy, joy and surprise.
Low brightness and muted colours often go with sad, fearful or gloomy moods.
I think the answer is clear from the expression on the face and the action of the person.
Please describe the image in detail and explain which emotion it evokes and why.
Yes, no, maybe. It is a good day to read a book, drink some tea and watch the sea.
"""

_ATTRIBUTE_LINES = (
    "emotion: {e}",
    "brightness: 0.{d}",
    "colorfulness: 0.{d}",
    "object: ['Tree', 'Person', 'Car']",
    "facial_expression: happy",
    "human_action: reading book",
    "scene: beach",
)


def training_corpus() -> list[str]:
    """The lines the zoo tokenizer is trained on (deterministic, no randomness involved)."""
    lines: list[str] = []
    for _ in range(8):  # repeat the protocol so its words become single tokens
        lines.append(CATEGORICAL_INSTRUCTION)
        lines.append(normalise_text(CATEGORICAL_INSTRUCTION))
        for label in ALPHABETICAL_EMOTIONS:
            lines.append(categorical_answer(label))
            lines.append(f"The image evokes {label}. The emotion is {label}.")
    for _ in range(4):  # the prompt layouts of the benchmarked models (LLaVA-1.5, BLIP-2 OPT)
        lines.append(f"USER: <image>\n{CATEGORICAL_INSTRUCTION} ASSISTANT:")
        lines.append(f"Question: {CATEGORICAL_INSTRUCTION} Answer:")
    for digit, label in enumerate(ALPHABETICAL_EMOTIONS):
        lines.extend(template.format(e=label, d=digit) for template in _ATTRIBUTE_LINES)
    lines.extend(line.strip() for line in _ENGLISH.strip().splitlines())
    lines.extend(line.strip().lower() for line in _ENGLISH.strip().splitlines())
    return lines


def train_bpe(vocab_size: int = 1024):
    """A byte-level BPE :class:`tokenizers.Tokenizer` trained on :func:`training_corpus`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(), trainer)
    for token, expected in zip(SPECIAL_TOKENS, range(len(SPECIAL_TOKENS))):
        if tokenizer.token_to_id(token) != expected:  # guards the fixed ids configs rely on
            raise RuntimeError(f"special token {token!r} got id {tokenizer.token_to_id(token)}, expected {expected}")
    return tokenizer


def llm_tokenizer(vocab_size: int = 1024, *, image_attribute: bool = True):
    """The language-model tokenizer: Llama-like (BOS prepended, ``</s>`` as EOS, ``<image>`` special).

    ``<image>`` is always an added special token. With ``image_attribute`` it is also registered as the
    tokenizer's named ``image_token`` (what LLaVA processors read); BLIP-2/InstructBLIP processors expect a
    tokenizer without that attribute, as the released checkpoints have.
    """
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = train_bpe(vocab_size)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, BOS_ID)])
    extra = {"extra_special_tokens": {"image_token": IMAGE}} if image_attribute else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK,
        padding_side="right", model_max_length=512, **extra,
    )


def qformer_tokenizer(vocab_size: int = 1024):
    """The Q-Former tokenizer: BERT-like framing (``<s> text </s>``) over the same vocabulary, pad id 0."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = train_bpe(vocab_size)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}", pair=f"{BOS} $A {EOS} $B {EOS}", special_tokens=[(BOS, BOS_ID), (EOS, EOS_ID)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, cls_token=BOS, sep_token=EOS, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        unk_token=UNK, padding_side="right", model_max_length=512,
    )


#: CLIP's end-of-text token. CLIP pools the text at the first end-of-text token, and transformers keeps a
#: legacy pooling (argmax of the token ids) for configs whose ``eos_token_id`` is 2, which the zoo's ``</s>``
#: is; the CLIP tokenizer therefore ends every text with this extra special token instead.
CLIP_EOT = "<|endoftext|>"


def clip_tokenizer(vocab_size: int = 1024, *, max_length: int = 77):
    """The CLIP text tokenizer: ``<s> text <|endoftext|>``, padded with ``<pad>``, at most ``max_length`` tokens."""
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    backend = train_bpe(vocab_size)
    backend.add_special_tokens([AddedToken(CLIP_EOT, special=True, normalized=False)])
    eot_id = backend.token_to_id(CLIP_EOT)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {CLIP_EOT}", pair=f"{BOS} $A {CLIP_EOT} $B {CLIP_EOT}",
        special_tokens=[(BOS, BOS_ID), (CLIP_EOT, eot_id)])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=BOS, eos_token=CLIP_EOT, pad_token=PAD, unk_token=UNK,
        padding_side="right", model_max_length=max_length,
    )

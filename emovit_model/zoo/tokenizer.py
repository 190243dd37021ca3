"""Offline tokenizers for the tiny-model zoo, of the kinds the real checkpoints use.

Every tokenizer is trained in memory, without a download, over a small built-in corpus
(:func:`training_corpus`: the categorical protocol instruction verbatim and normalised, the eight answers,
attribute lines as the generation prompts write them, the benchmarked prompt layouts and a few paragraphs of
everyday English). Training is deterministic: the same corpus gives the same vocabulary and merges.

* :func:`llama_tokenizer` — Llama's kind (Vicuna, LLaVA-1.5, LLaVA-NeXT): a SentencePiece BPE model trained
  with Llama's settings (byte fallback, a dummy prefix ``▁`` before the text, digits split, no
  normalisation), converted to transformers' ``LlamaTokenizer`` (BOS prepended), with the special tokens a
  checkpoint adds on top (``<image>``, a pad token).
* :func:`wordpiece_tokenizer` — BERT's kind (the Q-Former's ``bert-base-uncased``): lower-cased WordPiece,
  ``[CLS] text [SEP]``, plus the ``[DEC]`` BOS token LAVIS adds.
* :func:`byte_level_tokenizer` — GPT-2's kind (OPT, Llama 3, SmolLM): byte-level BPE; :func:`llm_tokenizer`,
  :func:`qformer_tokenizer` and :func:`clip_tokenizer` are the zoo's first byte-level tokenizers, with the
  special tokens at fixed ids (:data:`SPECIAL_TOKENS`). Byte-level BPE never produces an unknown token.
"""

from __future__ import annotations

import functools

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


def train_bpe(vocab_size: int = 1024, special_tokens: tuple[str, ...] = SPECIAL_TOKENS):
    """A byte-level BPE :class:`tokenizers.Tokenizer` trained on :func:`training_corpus`, ``special_tokens``
    first (ids 0, 1, ...)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(), trainer)
    for token, expected in zip(special_tokens, range(len(special_tokens))):
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


# ------------------------------------------------------------------------------------ the real checkpoints' kinds
#: SentencePiece's ids of Llama's special pieces (no pad piece: checkpoints add one).
LLAMA_UNK, LLAMA_BOS, LLAMA_EOS = "<unk>", "<s>", "</s>"


@functools.lru_cache(maxsize=4)
def sentencepiece_model(vocab_size: int = 1024) -> bytes:
    """A SentencePiece BPE model (serialised) trained on :func:`training_corpus` with Llama's settings: byte
    fallback, dummy prefix, digits split one by one, no normalisation or whitespace folding, ``<unk>``/``<s>``
    /``</s>`` at ids 0/1/2 and no pad piece."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_corpus()), model_writer=model, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, add_dummy_prefix=True, split_digits=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True, character_coverage=1.0,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece=LLAMA_UNK, bos_piece=LLAMA_BOS, eos_piece=LLAMA_EOS,
        hard_vocab_limit=False, num_threads=1, minloglevel=2)
    return model.getvalue()


def llama_tokenizer(vocab_size: int = 1024, *, added: tuple[str, ...] = (IMAGE, PAD), pad: str = PAD,
                    bos: str = LLAMA_BOS, unk: str = LLAMA_UNK, image_attribute: bool = True):
    """A Llama tokenizer (transformers' ``LlamaTokenizer``) converted from :func:`sentencepiece_model`: the
    SentencePiece pieces in their order, the BPE merges recovered from that order, BOS prepended.

    ``added`` special tokens go after the SentencePiece vocabulary, in order (llava-hf adds ``<image>`` then
    ``<pad>``; LAVIS's Vicuna InstructBLIP adds ``[PAD]``, transformers' processor then ``<image>``).
    ``bos``/``unk`` rename those roles (LAVIS's Vicuna uses ``</s>`` for BOS, EOS and UNK). With
    ``image_attribute`` ``<image>`` is also the tokenizer's named ``image_token`` (LLaVA processors read it).
    """
    import sentencepiece as spm
    from transformers import LlamaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    pieces = spm.SentencePieceProcessor(model_proto=sentencepiece_model(vocab_size))
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())}
    extra = {"extra_special_tokens": {"image_token": IMAGE}} if image_attribute and IMAGE in added else {}
    tokenizer = LlamaTokenizer(vocab=vocab, merges=generate_merges(vocab), legacy=False, add_bos_token=True,
                               add_eos_token=False, bos_token=bos, eos_token=LLAMA_EOS, unk_token=unk,
                               model_max_length=512, padding_side="right", **extra)
    for token in added:
        tokenizer.add_special_tokens({"additional_special_tokens": [token]}, replace_extra_special_tokens=False)
    tokenizer.pad_token = pad
    return tokenizer


#: The Q-Former tokenizer's pieces (BERT's), and the BOS token LAVIS adds to it.
BERT_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
QFORMER_BOS = "[DEC]"


def wordpiece_tokenizer(vocab_size: int = 1024):
    """The Q-Former's tokenizer of BERT's kind (``BertTokenizer``): lower-cased WordPiece over a vocabulary drawn
    from :func:`training_corpus`, ``[PAD]`` id 0, ``[CLS] text [SEP]``, plus LAVIS's ``[DEC]`` as BOS.

    The vocabulary is BERT's special tokens, every character of the corpus and of ASCII (word-initial and ``##``
    continuation), then the corpus's words by frequency (ties alphabetical) up to ``vocab_size``: WordPiece
    matches the longest known piece, so a word outside it splits into characters, as BERT splits rare words.
    (``tokenizers``' WordPiece trainer numbers its alphabet in hash order, which changes from run to run;
    counting keeps the zoo's files identical across runs.)
    """
    import string
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers
    from transformers import BertTokenizer

    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = Counter(word for line in training_corpus()
                    for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)))
    ascii_ = string.ascii_lowercase + string.digits + string.punctuation
    characters = sorted({character for word in words for character in word} | set(ascii_))
    pieces = [*BERT_SPECIAL, *characters, *(f"##{c}" for c in characters)]
    known = set(pieces)
    pieces += [w for w, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])) if w not in known]
    vocab = {piece: index for index, piece in enumerate(pieces[:vocab_size])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=512)
    tokenizer.add_special_tokens({"bos_token": QFORMER_BOS})
    return tokenizer


def byte_level_tokenizer(vocab_size: int = 1024, *, bos: str, eos: str, pad: str,
                         added: tuple[str, ...] = ()):
    """A byte-level BPE tokenizer of Llama 3's kind: ``bos``, ``eos`` and ``pad`` at ids 0-2, BOS prepended,
    ``added`` special tokens after the vocabulary."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    backend = train_bpe(vocab_size, (bos, eos, pad))
    backend.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, 0)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=eos, pad_token=pad,
                                        padding_side="right", model_max_length=512)
    if added:
        tokenizer.add_special_tokens({"additional_special_tokens": list(added)}, replace_extra_special_tokens=False)
    return tokenizer


# ------------------------------------------------------------------------------------ the 2025-2026 families' kinds
#: Qwen2's special tokens, in the order the Qwen2-VL / Qwen2.5-VL / Qwen3-VL tokenizers add them after the BPE
#: vocabulary (151643 ... 151656 in the real ones).
QWEN_SPECIAL: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
)
#: Tokens Qwen2.5's tokenizers add after those, as plain (not special) added tokens; Qwen3's add the tool-response
#: and reasoning markers too.
QWEN25_ADDED: tuple[str, ...] = ("<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                                 "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>")
QWEN3_ADDED: tuple[str, ...] = (*QWEN25_ADDED, "<tool_response>", "</tool_response>", "<think>", "</think>")


@functools.lru_cache(maxsize=4)
def _qwen_bpe(vocab_size: int) -> tuple[dict, tuple]:
    """``(vocab, merges)`` of a byte-level BPE trained on :func:`training_corpus` with Qwen2's normaliser (NFC)
    and pre-tokeniser (its split regex, then byte-level without a prefix space); no special tokens."""
    import json

    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    backend = Tokenizer(models.BPE())
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    backend.train_from_iterator(training_corpus(), trainer)
    model = json.loads(backend.to_str())["model"]
    return model["vocab"], tuple(tuple(merge) for merge in model["merges"])


def qwen_tokenizer(vocab_size: int = 1024, *, added: tuple[str, ...] = (), special: tuple[str, ...] = QWEN_SPECIAL,
                   eos: str = "<|im_end|>", pad: str = "<|endoftext|>", extra_special: dict | None = None):
    """A tokenizer of Qwen2's kind (transformers' ``Qwen2Tokenizer``): byte-level BPE with Qwen2's normaliser and
    split regex, no BOS, the ``special`` tokens right after the vocabulary (as the Qwen-VL tokenizers have them)
    and then ``added`` as plain added tokens; ``eos`` ends an answer (``<|im_end|>`` for the chat checkpoints) and
    ``<|endoftext|>`` pads. ``extra_special`` names tokens for the processor (e.g. InternVL's
    ``context_image_token``)."""
    from tokenizers import AddedToken
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    learnt, merges = _qwen_bpe(vocab_size)
    # the special and added tokens take the ids right after the learnt vocabulary, in order (the constructor adds
    # its EOS and pad tokens first; with their ids in the vocabulary already they keep them)
    vocab = {**learnt, **{token: len(learnt) + i for i, token in enumerate((*special, *added))}}
    extra = {"extra_special_tokens": dict(extra_special)} if extra_special else {}
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=list(merges), unk_token=None, bos_token=None,
                               eos_token=eos, pad_token=pad, errors="replace", model_max_length=32768,
                               padding_side="right", **extra)
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in special], special_tokens=True)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in added])
    return tokenizer


#: Gemma 3's special pieces at the front of its SentencePiece vocabulary, and the chat and image tokens it holds.
GEMMA_PAD, GEMMA_EOS, GEMMA_BOS, GEMMA_UNK, GEMMA_MASK = "<pad>", "<eos>", "<bos>", "<unk>", "<mask>"
GEMMA_TURN: tuple[str, str] = ("<start_of_turn>", "<end_of_turn>")
GEMMA_IMAGE: tuple[str, str, str] = ("<start_of_image>", "<end_of_image>", "<image_soft_token>")


@functools.lru_cache(maxsize=4)
def gemma_sentencepiece_model(vocab_size: int = 1024) -> bytes:
    """A SentencePiece BPE model (serialised) with Gemma's settings: byte fallback, no dummy prefix, digits split,
    no normalisation, ``<pad>``/``<eos>``/``<bos>``/``<unk>`` at ids 0-3, then ``<mask>`` and the chat and image
    pieces as user-defined symbols (never split)."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_corpus()), model_writer=model, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, add_dummy_prefix=False, split_digits=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True, character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece=GEMMA_PAD, eos_piece=GEMMA_EOS, bos_piece=GEMMA_BOS,
        unk_piece=GEMMA_UNK, user_defined_symbols=[GEMMA_MASK, *GEMMA_TURN, *GEMMA_IMAGE],
        hard_vocab_limit=False, num_threads=1, minloglevel=2)
    return model.getvalue()


def gemma_tokenizer(vocab_size: int = 1024):
    """Gemma 3's tokenizer kind (transformers' ``GemmaTokenizer``) converted from
    :func:`gemma_sentencepiece_model`: BOS prepended, ``<eos>`` as EOS, ``<pad>`` id 0; the turn markers are
    special, and the image tokens are named for the processor (``boi_token``, ``eoi_token``, ``image_token``)."""
    import sentencepiece as spm
    from transformers.models.gemma.tokenization_gemma import GemmaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    pieces = spm.SentencePieceProcessor(model_proto=gemma_sentencepiece_model(vocab_size))
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())}
    boi, eoi, image = GEMMA_IMAGE
    tokenizer = GemmaTokenizer(vocab=vocab, merges=generate_merges(vocab), add_bos_token=True, add_eos_token=False,
                               model_max_length=131072, padding_side="left",
                               extra_special_tokens={"boi_token": boi, "eoi_token": eoi, "image_token": image})
    tokenizer.add_special_tokens({"additional_special_tokens": [GEMMA_MASK, *GEMMA_TURN, *GEMMA_IMAGE]},
                                 replace_extra_special_tokens=False)
    return tokenizer

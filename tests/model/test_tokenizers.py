"""Real tokenizer kinds in the zoo, and answer tokens laid out the way the real models were trained.

* The zoo's Llama tokenizer tokenises exactly as the SentencePiece model it was converted from (Llama's
  settings: byte fallback, dummy prefix, digits split).
* EmoVIT (InstructBLIP, LAVIS's Vicuna tokenizer whose BOS is ``</s>``): training labels and rank-mode answer
  tokens as LAVIS built them: the prompt tokenised with BOS, the answer tokenised as ``answer + eos_token``
  with the BOS the tokenizer puts in front dropped.
* Chat-template models: the answer tokens ranked are the tail of prompt and answer tokenised together.
* ``emovit zoo --tokenizer DIR`` builds a model around a tokenizer folder shaped as the Hub ships one.
"""

from __future__ import annotations

import json

import pytest

from schemas.protocol import (
    ALPHABETICAL_EMOTIONS,
    CATEGORICAL_INSTRUCTION,
    categorical_answer,
    with_image_token,
)

TEXTS = ["Predict emotion: awe", "USER: a photo of 2024 mountains\nASSISTANT: calm", "Hello  world, 12345!",
         "naïve café 日本 ☃", "sadness", "The scene feels tense: the sky is dark."]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    from emovit_model.zoo import build_tiny

    root = tmp_path_factory.mktemp("tok_zoo")
    return {kind: build_tiny(kind, root / kind, seed=0) for kind in ("instructblip", "llava", "llava-next",
                                                                     "idefics3")}


def test_llama_tokenizer_tokenises_as_its_sentencepiece_model():
    import sentencepiece as spm

    from emovit_model.zoo.tokenizer import llama_tokenizer, sentencepiece_model

    pieces = spm.SentencePieceProcessor(model_proto=sentencepiece_model(1024))
    tokenizer = llama_tokenizer(1024)
    for text in TEXTS:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == pieces.encode(text), text
        assert tokenizer(text)["input_ids"][0] == pieces.bos_id() == 1
        assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    assert tokenizer.tokenize("日") == ["▁", "<0xE6>", "<0x97>", "<0xA5>"]  # byte fallback, never <unk>
    assert tokenizer.tokenize("day 2024") == ["▁day", "▁", "2", "0", "2", "4"]  # digits split one by one
    assert pieces.id_to_piece(pieces.unk_id()) == "<unk>" and pieces.piece_to_id("<pad>") == pieces.unk_id()


@pytest.fixture(scope="module")
def emovit(zoo):
    from emovit_model.scoring import EmotionClassifier

    return EmotionClassifier.from_pretrained(zoo["instructblip"], device="cpu", dtype="float32")


def _lavis(tokenizer, instruction, answer):
    """LAVIS blip2_vicuna_instruct: text_input tokenised (BOS added), text_output + eos_token tokenised and its
    first token (the BOS the tokenizer added) dropped when concatenating."""
    prompt = tokenizer(instruction)["input_ids"]
    output = tokenizer(answer + tokenizer.eos_token)["input_ids"]
    assert output[0] == tokenizer.bos_token_id
    return prompt, output[1:]


def test_emovit_training_labels_follow_lavis(emovit):
    from emovit_model.collators.instructblip import IGNORE_INDEX, EmoVITCollator

    processor = emovit.processor
    tokenizer = processor.tokenizer
    assert tokenizer.bos_token == tokenizer.eos_token == "</s>"  # LAVIS's Vicuna
    collator = EmoVITCollator(processor)
    pairs = [(CATEGORICAL_INSTRUCTION, categorical_answer("contentment")),
             ("What is in the picture, and how does it feel?", "A calm lake at dusk; it feels peaceful.")]
    batch = collator([{"id": str(i), "image": _image(), "conversations": [
        {"from": "human", "value": with_image_token(q)}, {"from": "gpt", "value": a}]} for i, (q, a) in enumerate(pairs)])
    queries = processor.num_query_tokens
    for row, (question, answer) in enumerate(pairs):
        prompt, target = _lavis(tokenizer, question, answer)
        length = queries + len(prompt) + len(target)
        assert batch["input_ids"][row, queries:length].tolist() == prompt + target
        assert batch["labels"][row, :length].tolist() == [IGNORE_INDEX] * (queries + len(prompt)) + target
        assert tokenizer.convert_ids_to_tokens(target)[-1] == "</s>"
    assert tokenizer.convert_ids_to_tokens(_lavis(tokenizer, "x", categorical_answer("awe"))[1]) == \
        ["▁Predict", "▁emotion", ":", "▁awe", "</s>"]


def test_emovit_rank_mode_scores_the_lavis_answer_tokens(emovit):
    tokenizer = emovit.processor.tokenizer
    for label in ALPHABETICAL_EMOTIONS:
        _, target = _lavis(tokenizer, CATEGORICAL_INSTRUCTION, categorical_answer(label))
        assert emovit.scorer.collator.answer_ids(categorical_answer(label)) == target


def _image():
    from PIL import Image

    return Image.new("RGB", (32, 32), (20, 200, 90))


@pytest.mark.parametrize("kind, end, first", [("llava", "</s>", "▁Predict"), ("llava-next", "</s>", "▁Predict"),
                                              ("idefics3", "<end_of_utterance>", "ĠPredict")])
def test_chat_answer_tokens_are_the_tail_of_prompt_and_answer_tokenised_together(zoo, kind, end, first):
    from emovit_model.scoring import EmotionClassifier

    classifier = EmotionClassifier.from_pretrained(zoo[kind], device="cpu")
    tokenizer = classifier.processor.tokenizer
    answers = tuple(categorical_answer(label) for label in ALPHABETICAL_EMOTIONS)
    for question in (CATEGORICAL_INSTRUCTION, "How does it feel?"):
        prompt = classifier.prompt(question)
        special = not prompt.startswith(tokenizer.bos_token)
        head = tokenizer(prompt, add_special_tokens=special)["input_ids"]
        for answer, ids in zip(answers, classifier.scorer.answer_ids(prompt, answers)):
            joint = tokenizer(f"{prompt} {answer}{end}", add_special_tokens=special)["input_ids"]
            assert joint[: len(head)] == head and ids == joint[len(head):]
            tokens = tokenizer.convert_ids_to_tokens(ids)
            assert (tokens[0], tokens[-1]) == (first, end)
        assert tokenizer(prompt, add_special_tokens=special)["input_ids"].count(tokenizer.bos_token_id) == 1


# ------------------------------------------------------------------------------------------ emovit zoo --tokenizer
def _hub_llama_tokenizer(folder):
    """A Llama-2-style tokenizer folder as the Hub ships one: tokenizer.json and a tokenizer_config.json with
    no pad token and no image token."""
    from emovit_model.zoo.tokenizer import llama_tokenizer

    tokenizer = llama_tokenizer(1024, added=(), image_attribute=False)
    tokenizer.backend_tokenizer.save(str(folder / "tokenizer.json"))
    special = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                        "special": True} for i, t in enumerate(("<unk>", "<s>", "</s>"))}
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": special, "bos_token": "<s>",
        "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": False,
        "model_max_length": 1000000000000000019884624838656, "pad_token": None, "sp_model_kwargs": {},
        "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>"}, indent=2))
    return len(tokenizer)


def test_zoo_builds_a_model_around_a_tokenizer_folder(tmp_path):
    import torch
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    from builder.cli import main

    folder = tmp_path / "tok"
    folder.mkdir()
    size = _hub_llama_tokenizer(folder)
    assert main(["zoo", "--kind", "llava", "--tokenizer", str(folder), "--out", str(tmp_path / "llava")]) == 0
    model = LlavaForConditionalGeneration.from_pretrained(tmp_path / "llava").eval()
    processor = AutoProcessor.from_pretrained(tmp_path / "llava")
    tokenizer = processor.tokenizer
    # llava-hf adds <image> and then <pad> after the vocabulary; the embeddings grow to cover both
    assert (tokenizer.convert_tokens_to_ids("<image>"), tokenizer.pad_token, tokenizer.pad_token_id) == \
        (size, "<pad>", size + 1)
    assert model.get_input_embeddings().num_embeddings == model.config.text_config.vocab_size == size + 2
    assert model.config.image_token_id == size
    inputs = processor(images=[_image()], text=["USER: <image>\nHi ASSISTANT:"], return_tensors="pt")
    with torch.no_grad():
        assert torch.isfinite(model(**inputs).logits).all()
    assert main(["zoo", "--kind", "instructblip", "--tokenizer", str(folder), "--out", str(tmp_path / "ib")]) == 0
    vicuna = AutoProcessor.from_pretrained(tmp_path / "ib").tokenizer
    assert (vicuna.pad_token, vicuna.pad_token_id, vicuna.convert_tokens_to_ids("<image>")) == ("[PAD]", size + 1, size)


def test_zoo_refuses_a_tokenizer_folder_without_its_files(tmp_path, capsys):
    from builder.cli import main

    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{}")
    assert main(["zoo", "--kind", "llava", "--tokenizer", str(tmp_path / "tok"), "--out", str(tmp_path / "x")]) == 2
    assert f"{tmp_path / 'tok' / 'tokenizer_config.json'}: not found" in capsys.readouterr().err


def test_qwen_tokenizers_are_qwen2s_kind_with_its_special_tokens_after_the_vocabulary():
    """Byte-level BPE with Qwen2's split rule, no BOS, Qwen's 14 special tokens right after the learnt vocabulary
    in Qwen's order (151643 ... 151656 in the real one), then Qwen2.5's and Qwen3's plain added tokens;
    ``<|im_end|>`` ends an answer and ``<|endoftext|>`` pads."""
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    from emovit_model.zoo.tokenizer import QWEN3_ADDED, QWEN_SPECIAL, qwen_tokenizer

    tokenizer = qwen_tokenizer(1024, added=QWEN3_ADDED)
    assert isinstance(tokenizer, Qwen2Tokenizer) and tokenizer.bos_token is None
    first = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert tokenizer.convert_tokens_to_ids(list(QWEN_SPECIAL)) == list(range(first, first + 14))
    assert tokenizer.convert_tokens_to_ids(list(QWEN3_ADDED)) == list(range(first + 14, first + 26))
    assert max(tokenizer.get_vocab()[t] for t in tokenizer.get_vocab() if t not in (*QWEN_SPECIAL, *QWEN3_ADDED)) \
        == first - 1
    assert (tokenizer.eos_token, tokenizer.pad_token) == ("<|im_end|>", "<|endoftext|>")
    assert tokenizer.tokenize(" awe 2024") == ["Ġawe", "Ġ", "2", "0", "2", "4"]  # byte-level; digits one by one
    assert tokenizer.tokenize("<think>\n awe</think>") == ["<think>", "Ċ", "Ġawe", "</think>"]
    text = "<|im_start|>user\nPredict emotion: awe<|im_end|>"
    assert tokenizer(text)["input_ids"][0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == "user\nPredict emotion: awe"
    assert "</think>" in tokenizer.decode(tokenizer("a</think>b")["input_ids"], skip_special_tokens=True)


def test_gemma_tokenizer_tokenises_as_its_sentencepiece_model():
    """Gemma's kind: SentencePiece BPE without a dummy prefix, byte fallback, digits split; <pad> 0, <eos> 1,
    <bos> 2 prepended; the turn and image markers are single special tokens named for the processor."""
    import sentencepiece as spm

    from emovit_model.zoo.tokenizer import gemma_sentencepiece_model, gemma_tokenizer

    pieces = spm.SentencePieceProcessor(model_proto=gemma_sentencepiece_model(1024))
    tokenizer = gemma_tokenizer(1024)
    for text in TEXTS:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == pieces.encode(text), text
        assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.bos_token_id) == (0, 1, 2)
    assert tokenizer("hi")["input_ids"][0] == 2
    assert tokenizer.tokenize("Predict awe 42") == ["Predict", "▁awe", "▁", "4", "2"]  # no dummy prefix
    assert (tokenizer.boi_token, tokenizer.eoi_token, tokenizer.image_token) == \
        ("<start_of_image>", "<end_of_image>", "<image_soft_token>")
    turn = tokenizer.tokenize("<start_of_turn>model\nawe<end_of_turn>")
    assert turn[0] == "<start_of_turn>" and turn[-1] == "<end_of_turn>"
    assert "<end_of_turn>" in tokenizer.all_special_tokens


@pytest.mark.parametrize("kind", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl", "gemma3", "internvl", "llava-onevision"])
def test_recent_tokenizers_know_the_protocol(tmp_path, kind):
    """The instruction round-trips, every label ends its answer as one token, and the family's image token is one
    special token."""
    from emovit_model.zoo import TinySpec, build_tiny_in_memory

    _, processor = build_tiny_in_memory(TinySpec(kind=kind))
    tokenizer = processor.tokenizer
    assert tokenizer.decode(tokenizer(CATEGORICAL_INSTRUCTION, add_special_tokens=False)["input_ids"]) \
        == CATEGORICAL_INSTRUCTION
    assert tokenizer.convert_ids_to_tokens(tokenizer(processor.image_token, add_special_tokens=False)["input_ids"]) \
        == [processor.image_token]
    for label in ALPHABETICAL_EMOTIONS:
        ids = tokenizer(categorical_answer(label), add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids[-1:]).strip() == label

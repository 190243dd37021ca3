"""The tiny-model zoo: checkpoints load with plain transformers, are deterministic, and see their images."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from emovit_model.zoo import KINDS, TinySpec, build_tiny
from schemas.protocol import ALPHABETICAL_EMOTIONS, CATEGORICAL_INSTRUCTION, categorical_answer


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _images(n=2, size=32):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo_all")
    return {kind: build_tiny(kind, root / kind, seed=0) for kind in KINDS}


GENERATIVE = tuple(kind for kind in KINDS if kind != "clip")
CHAT = ("llava", "llava-next", "idefics3")
#: The EmoVIT paper's generative kinds (a Llama-style tokenizer with BOS and ``<image>``).
PAPER = ("instructblip", "blip2", "llava", "llava-next", "idefics3")


def test_clip_checkpoint_loads_with_plain_transformers_and_pools_at_end_of_text(zoo):
    """CLIP pools each text at its end-of-text token, which must not be id 2 (transformers' legacy argmax path)."""
    import torch
    from transformers import AutoProcessor, CLIPModel

    path = zoo["clip"]
    assert (path / "model.safetensors").is_file() and not list(path.glob("*.bin"))
    model, processor = CLIPModel.from_pretrained(path).eval(), AutoProcessor.from_pretrained(path)
    eot = processor.tokenizer.eos_token_id
    assert model.config.text_config.eos_token_id == eot != 2
    inputs = processor(images=_images(2), text=["a photo that evokes awe", "an image"], return_tensors="pt",
                       padding=True)
    assert [ids[mask.bool()][-1].item() for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"])] == [eot] * 2
    with torch.no_grad():
        out = model(**inputs)
    assert out.logits_per_image.shape == (2, 2) and torch.isfinite(out.logits_per_image).all()
    assert (out.image_embeds[0] - out.image_embeds[1]).abs().mean() > 1e-3  # the tower tells images apart


@pytest.mark.parametrize("kind", GENERATIVE)
def test_checkpoint_loads_with_plain_transformers(zoo, kind):
    """Model and processor load with transformers' own classes (the video-capable families' processor without its
    video half where torchvision is missing: :func:`emovit_model.processors.load_processor`)."""
    import torch
    from transformers import AutoConfig

    from emovit_model.model import model_class
    from emovit_model.processors import load_processor

    path = zoo[kind]
    assert (path / "model.safetensors").is_file()
    assert not list(path.glob("*.bin")), "the zoo must not write pickled weights"
    config = AutoConfig.from_pretrained(path)
    model = model_class(config).from_pretrained(path).eval()
    processor = load_processor(path, config)
    prompt = f"{processor.image_token}\nWhat is this?" if kind not in ("instructblip", "blip2") else "What is this?"
    inputs = processor(images=[_images(1)], text=[prompt], return_tensors="pt")
    if kind in PAPER:
        assert inputs["pixel_values"].shape[-2:] == (32, 32)
    image_token_id = config.image_token_id
    assert (inputs["input_ids"] == image_token_id).sum() > 0
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape[-1] == config.text_config.vocab_size
    assert torch.isfinite(logits).all()


def test_same_seed_same_files_other_seed_other_weights(tmp_path):
    first = build_tiny("instructblip", tmp_path / "a", seed=5)
    second = build_tiny("instructblip", tmp_path / "b", seed=5)
    third = build_tiny("instructblip", tmp_path / "c", seed=6)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        assert _digest(first / name) == _digest(second / name), name
    assert _digest(first / "model.safetensors") != _digest(third / "model.safetensors")
    assert _digest(first / "tokenizer.json") == _digest(third / "tokenizer.json")


def test_vision_tower_distinguishes_images(zoo):
    """The BLIP default initializer_range (1e-10) would make every image embed the same."""
    import torch
    from transformers import AutoProcessor, InstructBlipForConditionalGeneration

    model = InstructBlipForConditionalGeneration.from_pretrained(zoo["instructblip"]).eval()
    assert model.config.vision_config.initializer_range == pytest.approx(0.02)
    pixels = AutoProcessor.from_pretrained(zoo["instructblip"]).image_processor(_images(2), return_tensors="pt")
    with torch.no_grad():
        hidden = model.vision_model(pixel_values=pixels["pixel_values"]).last_hidden_state
    assert (hidden[0] - hidden[1]).abs().mean() > 1e-2


@pytest.mark.parametrize("kind", PAPER)
def test_tokenizer_knows_the_protocol(zoo, kind):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(zoo[kind])
    assert tokenizer.decode(tokenizer(CATEGORICAL_INSTRUCTION, add_special_tokens=False)["input_ids"]) \
        == CATEGORICAL_INSTRUCTION
    assert tokenizer.convert_ids_to_tokens(tokenizer("<image>", add_special_tokens=False)["input_ids"]) == ["<image>"]
    assert tokenizer("hi")["input_ids"][0] == tokenizer.bos_token_id
    for label in ALPHABETICAL_EMOTIONS:  # learnt from the corpus: every answer label is one token
        ids = tokenizer(categorical_answer(label), add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids[-1:]).strip() == label


def test_tokenizers_are_the_real_checkpoints_kinds(zoo):
    """SentencePiece Llama for Vicuna and the LLaVAs, WordPiece for the Q-Former, byte-level BPE for OPT, CLIP and
    Idefics3's Llama 3; special tokens where the real checkpoints put them."""
    from transformers import AutoProcessor, AutoTokenizer

    for kind in ("instructblip", "llava", "llava-next"):
        tokens = AutoTokenizer.from_pretrained(zoo[kind]).tokenize("Predict emotion: awe 42")
        assert tokens == ["▁Predict", "▁emotion", ":", "▁awe", "▁", "4", "2"], kind  # dummy prefix, digits split
    llava = AutoTokenizer.from_pretrained(zoo["llava"])
    size = len(llava) - 2  # llava-hf adds <image>, then <pad>, after the SentencePiece vocabulary
    assert (llava.image_token, llava.convert_tokens_to_ids("<image>"), llava.pad_token, llava.pad_token_id) == \
        ("<image>", size, "<pad>", size + 1)
    assert (llava.unk_token_id, llava.bos_token_id, llava.eos_token_id) == (0, 1, 2)
    vicuna = AutoProcessor.from_pretrained(zoo["instructblip"])
    tokenizer = vicuna.tokenizer  # LAVIS's Vicuna: BOS = EOS = UNK = </s>, [PAD] then <image> added
    size = len(tokenizer) - 2
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token) == ("</s>", "</s>", "</s>")
    assert (tokenizer.pad_token, tokenizer.pad_token_id, tokenizer.convert_tokens_to_ids("<image>")) == \
        ("[PAD]", size, size + 1)
    qformer = vicuna.qformer_tokenizer  # bert-base-uncased's kind, with LAVIS's [DEC]
    assert qformer.convert_ids_to_tokens(qformer("Predict AWE")["input_ids"]) == ["[CLS]", "predict", "awe", "[SEP]"]
    assert (qformer.pad_token_id, qformer.bos_token) == (0, "[DEC]")
    idefics = AutoProcessor.from_pretrained(zoo["idefics3"]).tokenizer
    assert idefics.bos_token == "<|begin_of_text|>" and "<end_of_utterance>" in idefics.all_special_tokens
    assert idefics.tokenize(" awe")[0] == "Ġawe"  # byte-level: the space is part of the token


def test_chat_templates_are_the_real_checkpoints(zoo):
    from transformers import AutoProcessor

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}]
    rendered = {kind: AutoProcessor.from_pretrained(zoo[kind]).apply_chat_template(messages, add_generation_prompt=True)
                for kind in CHAT}
    assert rendered["llava"] == rendered["llava-next"] == "USER: <image>\nQ? ASSISTANT:"
    assert rendered["idefics3"] == "<|begin_of_text|>User:<image>Q?<end_of_utterance>\nAssistant:"


def test_any_resolution_models_use_more_image_tokens_for_larger_or_wider_images(zoo):
    """LLaVA-NeXT tiles by aspect ratio and Idefics3 splits into tiles plus a global view: the number of image
    tokens depends on the image, unlike LLaVA-1.5's fixed 16."""
    import numpy as np
    from PIL import Image
    from transformers import AutoProcessor

    def count(kind, height, width):
        processor = AutoProcessor.from_pretrained(zoo[kind])
        image = Image.fromarray(np.zeros((height, width, 3), dtype=np.uint8))
        ids = processor(images=[image], text=["<image>"], return_tensors="pt")["input_ids"]
        return int((ids == processor.image_token_id).sum())

    assert count("llava", 32, 32) == count("llava", 32, 64) == 16
    assert len({count("llava-next", h, w) for h, w in ((32, 32), (32, 64), (96, 32))}) == 3
    # Idefics3: 4 image tokens per 32-px tile; a square image makes 2 x 2 tiles + the global view, a 2:1 one 1 x 2 + 1
    assert (count("idefics3", 32, 32), count("idefics3", 16, 32)) == (20, 12)


def test_spec_validates_itself():
    from schemas.errors import UsageError

    with pytest.raises(UsageError, match="unknown zoo kind"):
        TinySpec(kind="gpt")
    with pytest.raises(UsageError, match="multiple of patch_size"):
        TinySpec(image_size=30)


def test_cli_writes_every_kind(tmp_path):
    from builder.cli import main

    assert main(["zoo", "--kind", "all", "--out", str(tmp_path), "--hidden-size", "32"]) == 0
    for kind in KINDS:
        assert (tmp_path / kind / "model.safetensors").is_file()
        assert '"hidden_size": 32' in (tmp_path / kind / "zoo_spec.json").read_text()
    assert main(["zoo", "--kind", "llava", "--out", str(tmp_path / "x"), "--hidden-size", "30"]) == 2
    assert main(["zoo", "--kind", "llava", "--out", str(tmp_path / "y"), "--tokenizer", str(tmp_path / "none")]) == 2


def test_cli_help_does_not_import_torch():
    code = (
        "import argparse, sys, importlib\n"
        "for name in ('emovit_model.zoo.cli', 'emovit_model.train.cli'):\n"
        "    importlib.import_module(name).add_arguments(argparse.ArgumentParser())\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

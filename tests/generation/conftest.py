"""Fixtures of the generation tests: real source records, a tiny random BLIP-2 checkpoint, a loopback
chat-completions server and a fake API key."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from builder.sources.emoset import EmoSetSource
from builder.sources.records import SourceRecord
from tests.support.fake_openai import FakeChatServer

#: A distinctive fake key: no file written by a run and no log line may contain it.
FAKE_KEY = "sk-test-SECRET-123"
KEY_ENV = "EMOVIT_TEST_API_KEY"


@pytest.fixture(scope="session")
def source_records(small_tree_template) -> list[SourceRecord]:
    """The 24 train records of the shared small synthetic tree (3 per class)."""
    return list(EmoSetSource(small_tree_template, verify_images=False).records("train"))


class ApiKey(NamedTuple):
    env: str
    value: str


@pytest.fixture
def api_key(monkeypatch) -> ApiKey:
    """The fake key, set in the environment variable the configs name."""
    monkeypatch.setenv(KEY_ENV, FAKE_KEY)
    return ApiKey(KEY_ENV, FAKE_KEY)


@pytest.fixture
def chat_server():
    """Factory of started loopback servers (stopped at teardown)."""
    servers: list[FakeChatServer] = []

    def start(**options) -> FakeChatServer:
        server = FakeChatServer(**options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def build_tiny_blip2(directory: Path, *, num_query_tokens: int = 4, image_size: int = 16) -> Path:
    """Write a tiny random BLIP-2 (ViT + Q-Former + OPT, 32-dim, one layer each) and its processor.

    The vision tower uses ``initializer_range=0.02``: with the default 1e-10 every image gives the same
    embedding. The tokenizer is a word-level one trained offline with the ``tokenizers`` library; the
    processor adds the ``<image>`` token and prepends ``num_query_tokens`` copies of it to the prompt.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        BlipImageProcessor,
        OPTConfig,
        PreTrainedTokenizerFast,
    )

    words = ["a", "photo", "of", "the", "dog", "cat", "tree", "sky", "beach", "sea", "road", "people", "person", "child", "smiling", "crying", "red", "blue", "green", "dark", "bright", "old", "small", "large", "with", "and", "in", "on", "at", "near", "under"]
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator([" ".join(words)], trainers.WordLevelTrainer(
        special_tokens=["<pad>", "<unk>", "</s>", "<image>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="</s>", eos_token="</s>")
    image_token_id = fast.convert_tokens_to_ids("<image>")
    torch.manual_seed(0)
    config = Blip2Config(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": image_size, "patch_size": 8, "initializer_range": 0.02},
        qformer_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                        "intermediate_size": 64, "encoder_hidden_size": 32},
        text_config=OPTConfig(vocab_size=len(fast), hidden_size=32, num_hidden_layers=1, ffn_dim=64,
                              num_attention_heads=2, word_embed_proj_dim=32, max_position_embeddings=64,
                              bos_token_id=2, eos_token_id=2, pad_token_id=0).to_dict(),
        num_query_tokens=num_query_tokens, image_token_index=image_token_id,
    )
    model = Blip2ForConditionalGeneration(config).eval()
    processor = Blip2Processor(image_processor=BlipImageProcessor(size={"height": image_size, "width": image_size}),
                               tokenizer=fast, num_query_tokens=num_query_tokens)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_blip2(tmp_path_factory) -> Path:
    """A tiny random BLIP-2 checkpoint directory (written once per session)."""
    return build_tiny_blip2(tmp_path_factory.mktemp("tiny_blip2"))

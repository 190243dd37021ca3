"""Known list prices of common chat models, and the token estimate a dry run uses.

Prices are US dollars per million tokens (prompt, completion), as OpenAI's public pricing page listed
them in March 2026 (read through third-party price trackers that quote it; standard tier, no cached-input
discounts). The Batch API (``openai-batch:<model>``) bills half of these list prices. Prices change: the table
is dated, the report says where a price came from, and ``--price-per-million-input`` /
``--price-per-million-output`` override it (taken as the prices of the backend used: batch prices for
``openai-batch:``). A model not in the table costs 0 unless prices are given, and the report says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: When the figures below were listed.
PRICES_AS_OF = "2026-03"
#: Model name (or name prefix, e.g. dated snapshots ``gpt-4o-2024-08-06``) -> (prompt, completion) USD per 1M.
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),  # the model EmoVIT's instructions were written with
    "gpt-3.5-turbo": (0.50, 1.50),
}


#: Share of the list price the Batch API bills (OpenAI: 50 % off input and output tokens).
BATCH_DISCOUNT = 0.5


@dataclass(frozen=True)
class Prices:
    """USD per million prompt and completion tokens, and where the figures came from."""

    input: float
    output: float
    source: str

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


def known_prices(model: str) -> tuple[float, float] | None:
    """Table prices of ``model``: an exact name, else the longest name it starts with (``gpt-4o-2024-08-06``
    is ``gpt-4o``, ``gpt-4o-mini-2024-07-18`` is ``gpt-4o-mini``)."""
    if model in KNOWN_PRICES:
        return KNOWN_PRICES[model]
    prefixes = [name for name in KNOWN_PRICES if model.startswith(name + "-")]
    return KNOWN_PRICES[max(prefixes, key=len)] if prefixes else None


def resolve_prices(model: str, price_input: float | None, price_output: float | None, *,
                   batch: bool = False) -> Prices:
    """Given prices win; missing ones come from the table (halved for the Batch API when ``batch``); unknown
    models cost 0 (source says so)."""
    table = known_prices(model)
    if table is not None and batch:
        table = (table[0] * BATCH_DISCOUNT, table[1] * BATCH_DISCOUNT)
    if price_input is not None and price_output is not None:
        return Prices(price_input, price_output, "given")
    if table is None:
        return Prices(price_input or 0.0, price_output or 0.0,
                      "given" if price_input or price_output else f"unknown model {model!r}: no price")
    source = f"table of list prices as of {PRICES_AS_OF}" + (", Batch API: half" if batch else "")
    if price_input is not None or price_output is not None:
        source = f"given, rest from the {source}"
    return Prices(table[0] if price_input is None else price_input,
                  table[1] if price_output is None else price_output, source)


#: Characters per token of English text for OpenAI's tokenizers (their documented rule of thumb).
CHARS_PER_TOKEN = 4.0
#: Tokens the chat format adds per message (role and separators) and once to prime the reply.
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3


def estimate_tokens(text: str) -> int:
    """Offline token estimate of ``text``: characters / 4, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(messages: list[dict], count=estimate_tokens) -> int:
    """Prompt tokens of a chat request: each message's content plus the chat format's framing."""
    return sum(count(m["content"]) + TOKENS_PER_MESSAGE for m in messages) + TOKENS_PER_REPLY


def tiktoken_counter(model: str):
    """A token counter with ``tiktoken`` (exact for OpenAI models). ``tiktoken`` downloads its encodings on
    first use, so it is an option for machines with network, never the offline default."""
    try:
        import tiktoken
    except ImportError:
        from schemas.errors import UsageError

        raise UsageError("--token-estimate tiktoken needs the tiktoken package (pip install tiktoken)") from None
    try:
        encoding = tiktoken.encoding_for_model(model)
    except KeyError:
        encoding = tiktoken.get_encoding("o200k_base")
    return lambda text: len(encoding.encode(text))

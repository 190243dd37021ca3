"""``emovit zoo``: write tiny random checkpoints (:mod:`emovit_model.zoo`) for tests and demos.

    emovit zoo --kind instructblip --out /tmp/tiny-instructblip
    emovit zoo --kind all --out /tmp/zoo          # one sub-folder per kind
    emovit zoo --kind llava --tokenizer MY_TOKENIZER --out /tmp/tiny-llava   # around a tokenizer on disk
"""

from __future__ import annotations

from pathlib import Path

from emovit_model.zoo import KINDS, TOKENIZERS, USER_TOKENIZER_KINDS, TinySpec, build_tiny


def add_arguments(parser) -> None:
    parser.add_argument("--kind", required=True, choices=(*KINDS, "all"),
                        help="architecture to build; 'all' writes one sub-folder per kind under --out")
    parser.add_argument("--out", required=True, help="directory to write the checkpoint into")
    parser.add_argument("--seed", type=int, default=0, help="weight-initialisation seed (default 0)")
    parser.add_argument("--image-size", type=int, default=TinySpec.image_size, help=f"input resolution in pixels (default {TinySpec.image_size})")
    parser.add_argument("--hidden-size", type=int, default=TinySpec.hidden_size,
                        help=f"width of every sub-model: vision, Q-Former, LLM (default {TinySpec.hidden_size})")
    parser.add_argument("--layers", type=int, default=TinySpec.num_layers, help=f"layers per sub-model (default {TinySpec.num_layers})")
    parser.add_argument("--query-tokens", type=int, default=TinySpec.num_query_tokens,
                        help=f"Q-Former query tokens, BLIP-2 / InstructBLIP (default {TinySpec.num_query_tokens})")
    parser.add_argument("--tokenizer", default="real", metavar="real|bytelevel|DIR",
                        help="real: tokenizers of the kinds the real checkpoints use (default); bytelevel: the zoo's "
                             "first byte-level BPE tokenizers; DIR: a tokenizer folder (tokenizer.json + "
                             "tokenizer_config.json) to build the model around")


def run(args) -> int:
    sizes = {"image_size": args.image_size, "hidden_size": args.hidden_size,
             "intermediate_size": 2 * args.hidden_size, "num_layers": args.layers,
             "num_query_tokens": args.query_tokens, "tokenizer": args.tokenizer}
    kinds = KINDS if args.kind == "all" else (args.kind,)
    if args.kind == "all" and args.tokenizer not in TOKENIZERS:
        kinds = USER_TOKENIZER_KINDS
        print(f"--tokenizer DIR: building {', '.join(kinds)} (the other kinds build with their real tokenizers only)")
    for kind in kinds:
        out = Path(args.out) / kind if args.kind == "all" else Path(args.out)
        build_tiny(kind, out, seed=args.seed, **sizes)
        files = sorted(p.name for p in out.iterdir() if p.is_file())
        print(f"{kind} -> {out} (random weights, seed {args.seed}; {len(files)} files: {', '.join(files)})")
    return 0

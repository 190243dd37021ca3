"""Everything that makes and curates the dataset, one sub-package per pipeline stage:

``sources`` (EmoSet-style and synthetic trees, records, pixel attributes, validation) -> ``captions`` ->
``generation`` (instructions, prompts, LLM backends) -> ``dataset`` (the ``datasets`` builder: plan, shards,
instruction checks, build, report, dry run) -> ``publish`` (export, push, card template) and ``curation``
(the FiftyOne loop). A stage imports only from the stages before it; ``cli`` is the ``emovit`` command table
and ``storage`` holds where the caches live.
"""

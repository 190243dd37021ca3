"""Reading source trees into records: the EmoSet-style reader (:mod:`~builder.sources.emoset`), the record
and quarantine types, pixel attributes, synthetic trees, the attribute context prompts and captions are
written from, and ``emovit validate``."""

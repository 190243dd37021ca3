"""Visual curation with FiftyOne: load a build into a persistent FiftyOne dataset, compute quality signals
as fields and saved views, browse them in the FiftyOne App, and turn tags set there into the
``emovit-curation/1`` decisions file that ``emovit build --curation`` applies.

Modules, each with one job:

* :mod:`~builder.curation.database` -- FiftyOne's database settings (directory, URI) and a clear error when
  no ``mongod`` is available;
* :mod:`~builder.curation.images` -- one :class:`~builder.curation.images.ImageEntry` per image of a build
  directory or a raw EmoSet tree (no FiftyOne);
* :mod:`~builder.curation.instruction_flags` -- leakage, length outliers, wrong categorical answers and
  repeated answers (no FiftyOne);
* :mod:`~builder.curation.embeddings` -- offline image embeddings (thumbnail + colour histogram) and,
  optionally, an InstructBLIP/BLIP-2 vision encoder's;
* :mod:`~builder.curation.predictions` -- benchmark ``predictions.jsonl`` files as per-model opinions;
* :mod:`~builder.curation.loader` -- creates or updates the FiftyOne dataset, in batches;
* :mod:`~builder.curation.signals` -- pixel mismatch, near-duplicates, label errors, the embeddings plot;
* :mod:`~builder.curation.views` -- the saved views' names and definitions;
* :mod:`~builder.curation.decisions` -- App tags to the decisions file;
* :mod:`~builder.curation.app` -- the App on 127.0.0.1;
* :mod:`~builder.curation.pipeline` -- one ``curate load`` run (:class:`~builder.curation.pipeline.CurateConfig`);
* :mod:`~builder.curation.cli` -- ``emovit curate load|app|decisions``.

Only :mod:`builder.curation.cli` is imported by ``emovit``; FiftyOne, ``datasets`` and torch are imported inside
the functions that need them.
"""

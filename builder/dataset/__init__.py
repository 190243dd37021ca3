"""The dataset stage: the ``datasets`` builder (:mod:`~builder.dataset.builder`) with its plan and shard
workers and the instruction checks at its boundary, ``emovit build`` and its report and dry run, the build
as stored on disk, and the curation decisions file a build applies."""

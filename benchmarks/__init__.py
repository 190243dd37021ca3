"""The leaderboard harness, one sub-package per stage, each importing only from the stages before it.

``adapters`` (the model families a run config may name) <- ``spec`` (task and run-config files) <- ``data``
(the samples a task scores) <- ``score`` (one run's figures, from its predictions alone) <- ``run`` (models
scored into run folders, each with its figures) <- ``board`` (runs gathered into the leaderboard, its page,
plots and Hub results) <- ``interop`` (other harnesses' answers in, our benchmark out); the ``emovit bench``
command table (``cli``) and the demo on top. ``tests/test_layers.py`` holds the order.
"""

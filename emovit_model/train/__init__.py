"""``emovit train``: fine-tune EmoVIT (InstructBLIP's Q-Former) on a built instruction dataset.

One readable recipe on ``transformers.Trainer``::

    emovit train --dataset build/ --base Salesforce/instructblip-vicuna-7b --out runs/emovit

Defaults follow EmoVIT's released config: AdamW (0.9, 0.999), lr 1e-5, weight decay 0.005, linear warm-up
then cosine decay to 1e-8, 4 epochs, batch 1, seed 42, bf16 mixed precision on GPUs that support it
(fp32 on CPU). Vision encoder and LLM are frozen; the Q-Former, its query tokens, the projection and the
vision LayerNorm train (see :mod:`emovit_model.model`).

Outputs in ``--out``::

    run_config.json          every option, its fingerprint, library versions, parameter counts
    metrics.json             per epoch: mean training loss, validation accuracy (8-way, likelihood ranking)
    eval/epoch-N.jsonl       per epoch: every validation image's gold and predicted label
    checkpoints/checkpoint-N Trainer checkpoints: adapter (safetensors) + optimizer/scheduler/RNG state
    adapter/                 the trained weights only (safetensors + JSON naming the base) + processor
    merged/                  with --merge: a full save_pretrained model plain transformers loads

``--resume`` continues from the newest checkpoint in ``--out`` (or ``--resume PATH``), restoring weights,
optimizer, scheduler, RNG state and the step counter. ``--config run_config.json`` re-reads a saved run's
options (flags given on the command line win).

The same command trains LLaVA on the instruction data (the benchmark's ``llava-ft``) when ``--base`` is a
LLaVA checkpoint: the projector (``--tuning projector``) or the projector plus LoRA on the LLM's attention
(``--tuning lora``, the default for LLaVA; ``--lora-r``, ``--lora-alpha``). Same data pipeline, Trainer,
adapters and evaluation; the adapter records its LoRA settings. ``--train-fraction`` trains on a seeded share
of the images of each emotion (the data-scaling curve).

Validation accuracy: each distinct image of the validation split is classified by ranking the eight answers
``Predict emotion: <label>`` by likelihood (:class:`emovit_model.scoring.EmotionClassifier`), which always
yields a label, so the per-epoch figure is stable even when free generation would not parse.

Multi-GPU needs no code change; the Trainer picks the launcher's environment up::

    torchrun --nproc-per-node 4 $(which emovit) train --dataset build/ --base ... --out runs/emovit
    accelerate launch --num-processes 4 -m emovit_model.train --dataset build/ --base ... --out runs/emovit

``--batch-size`` is per device; the effective batch is batch-size x grad-accum x number of processes.
Validation is split between processes and the per-sample predictions gathered.

Modules: :mod:`.config` (the run's options), :mod:`.data` (splits from a build), :mod:`.metrics` (per-epoch
figures from the Trainer's log), :mod:`.trainer` (the Trainer subclass and callbacks), :mod:`.recipe` (the
run itself, top to bottom) and :mod:`.cli` (``emovit train`` flags).
"""

from emovit_model.train.config import TrainConfig, TrainResult
from emovit_model.train.recipe import train

__all__ = ["TrainConfig", "TrainResult", "train"]

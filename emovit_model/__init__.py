"""EmoVIT on transformers' InstructBLIP and the other model families the benchmark scores: one row per family,
model loading and freeze policies, training collators, training, checkpoint I/O without pickle, the LAVIS import,
emotion scoring, and a zoo of tiny random checkpoints.

Modules (each imports torch/transformers only inside its functions, so importing this package is light):

* :mod:`emovit_model.families`     one row per model family: its scorer, model types, model class, default
  checkpoint, zoo kind, image-token rule, training collator and tunings
* :mod:`emovit_model.image_tokens` the tokens one image puts in a prompt, one rule per way of placing an image
* :mod:`emovit_model.model`        load a base / adapter, EmoVIT's freeze policy, LLaVA's projector / LoRA tuning,
  parameter table
* :mod:`emovit_model.processors`   a checkpoint's processor, with or without torchvision; one-line load errors
* :mod:`emovit_model.collators`    built-dataset rows -> training batches with masked labels: EmoVIT's InstructBLIP
  collator and augmentation (:mod:`~emovit_model.collators.instructblip`), the LLaVA-1.5 conversation collator
  (:mod:`~emovit_model.collators.llava`)
* :mod:`emovit_model.train`        ``emovit train`` on ``transformers.Trainer``
* :mod:`emovit_model.checkpoint`   safetensors adapters, ``--merge``, the identity a run records for a checkpoint
* :mod:`emovit_model.lavis`        original LAVIS EmoVIT ``.pth`` checkpoints imported into transformers names
* :mod:`emovit_model.scoring`      rank or generate one of the eight emotions for an image (``EmotionClassifier``)
  and read labels from answers
* :mod:`emovit_model.scorers`      one scorer per way of scoring (InstructBLIP, BLIP-2, CLIP, chat-template VLMs,
  OpenAI-compatible API models); a checkpoint's family row names its scorer
* :mod:`emovit_model.zoo`          ``emovit zoo``: a tiny random checkpoint of every family, with offline tokenizers
  (SentencePiece Llama and Gemma, WordPiece, byte-level BPE) and the real checkpoints' chat templates
"""

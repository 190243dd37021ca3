"""EmoVIT on transformers' InstructBLIP: model loading and freeze policy, data collator, training,
checkpoint I/O without pickle, emotion scoring, and a zoo of tiny random checkpoints.

Modules (each imports torch/transformers only inside its functions, so importing this package is light):

* :mod:`emovit_model.model`      load a base / adapter, EmoVIT's freeze policy, parameter table
* :mod:`emovit_model.collator`   built-dataset rows -> InstructBLIP batches with masked labels; augmentation
* :mod:`emovit_model.train`      ``emovit train`` on ``transformers.Trainer``
* :mod:`emovit_model.checkpoint` safetensors adapters, ``--merge``, LAVIS ``.pth`` import
* :mod:`emovit_model.scoring`    rank or generate one of the eight emotions for an image (``EmotionClassifier``)
* :mod:`emovit_model.scorers`    one scorer per model family (InstructBLIP, BLIP-2, CLIP, chat-template VLMs,
  OpenAI-compatible API models) and the registry that picks it from a checkpoint's config
* :mod:`emovit_model.zoo`        ``emovit zoo``: tiny InstructBLIP / BLIP-2 / LLaVA / LLaVA-NeXT / Idefics3 / CLIP
* :mod:`emovit_model.tokenizer`  the zoo's offline tokenizers (SentencePiece Llama, WordPiece, byte-level BPE)
"""

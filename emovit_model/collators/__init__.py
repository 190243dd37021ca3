"""Built-dataset rows -> training batches with masked labels, one collator per trainable model family."""

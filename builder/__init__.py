"""Everything that makes the dataset: source reading, synthetic trees, generation, the builder, export."""

"""Task and run-config files: the packaged YAML (benchmarks/tasks, benchmarks/configs) and how it is read."""

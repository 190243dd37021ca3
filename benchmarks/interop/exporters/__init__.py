"""Our benchmark written as other harnesses' tasks: one module per harness."""

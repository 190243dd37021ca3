"""Other harnesses: their saved answers imported as our runs, our benchmark exported as their tasks."""

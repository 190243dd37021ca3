"""Publishing a build: Hub-ready and LLaVA exports with the dataset card template, and the push to the Hub."""

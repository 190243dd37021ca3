"""Runs gathered into the leaderboard: tables, Markdown/CSV, the page, plots and the Hub results dataset."""

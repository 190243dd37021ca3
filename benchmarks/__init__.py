"""Leaderboard harness and pytest-benchmark performance suites."""

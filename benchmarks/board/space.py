"""The leaderboard page as a static Hugging Face Space (``emovit bench publish --space ORG/NAME``).

The Space folder holds ``README.md`` (a Space card whose front matter says ``sdk: static`` and
``app_file: index.html``, so the Hub serves the page as it is), ``index.html``, the plots it shows
(``plots/*.png``) and the board's files (``leaderboard.json``, ``leaderboard_tasks.json``, ``leaderboard.md``,
``leaderboard.csv``). It is created with ``HfApi.create_repo(repo_type="space", space_sdk="static")`` and
uploaded with ``HfApi.upload_folder``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: The board's files the Space carries beside its page.
SPACE_FILES = ("index.html", "leaderboard.json", "leaderboard_tasks.json", "leaderboard.md", "leaderboard.csv")


def space_card(space: str, repo: str):
    """The Space's card: static SDK, ``index.html`` as its app, the results dataset linked."""
    from huggingface_hub import SpaceCard, SpaceCardData

    from benchmarks.board.escape import markdown_text as md

    data = SpaceCardData(title=space.split("/")[1], sdk="static", app_file="index.html", datasets=[repo],
                         tags=["leaderboard", "emotion-recognition", "emovit"], emoji="📊", colorFrom="blue",
                         colorTo="gray", pinned=False)
    body = (f"# {md(space)}\n\nThe emovit leaderboard as a page: every figure recomputed by `emovit bench leaderboard` "
            f"from per-sample predictions. Results and per-sample details: "
            f"[{md(repo)}](https://huggingface.co/datasets/{repo}).\n")
    return SpaceCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def build_space(board: Path, space: str, repo: str, out: Path) -> Path:
    """Write the Space folder for ``board`` into ``out`` (created); returns it."""
    out.mkdir(parents=True, exist_ok=True)
    for name in SPACE_FILES:
        if (board / name).is_file():
            shutil.copyfile(board / name, out / name)
    if (board / "plots").is_dir():
        shutil.copytree(board / "plots", out / "plots")
    space_card(space, repo).save(str(out / "README.md"))
    return out


def push_space(api, folder: Path, space: str, *, private: bool = False) -> str:
    """Create the static Space (if needed) and upload ``folder`` to it; returns a line saying so."""
    api.create_repo(space, repo_type="space", space_sdk="static", private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=space, repo_type="space",
                               commit_message="Upload emovit leaderboard page")
    return f"space {space}: {getattr(commit, 'commit_url', commit)}"


__all__ = ["SPACE_FILES", "build_space", "push_space", "space_card"]

"""``emovit push``: publish an exported Hub folder (parquet shards + card) with ``huggingface_hub``.

The token comes from the environment (``HF_TOKEN``, or the login cache ``huggingface_hub`` manages); it is
never printed. Network or authentication failures are one line with exit code 2.

The repository mirrors the folder for the files an export owns: ``README.md`` and everything under
``data/`` that the folder no longer has is deleted on the Hub in the same commit (``delete_patterns``), so
a re-export with fewer configs or splits leaves no stale shard behind. Other files on the Hub are kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from schemas.errors import UsageError

#: Hub files an export owns: removed from the repo when the pushed folder no longer has them.
OWNED_PATTERNS: list[str] = ["README.md", "data/**"]


def push_folder(folder: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                message: str = "Upload EmoVIT instruction dataset") -> str:
    """Create the dataset repo if needed and mirror ``folder`` into it; returns the commit URL."""
    from huggingface_hub import HfApi

    from builder.publish.export import EXPORT_MARKER

    folder = Path(folder)
    marker = folder / EXPORT_MARKER
    if not (folder / "README.md").is_file() or not (folder / "data").is_dir() or not marker.is_file() \
            or json.loads(marker.read_text()).get("format") != "hub":
        raise UsageError(f"{folder}: not an exported Hub folder (run 'emovit export --format hub' first)")
    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                   revision=revision, commit_message=message, allow_patterns=OWNED_PATTERNS,
                                   delete_patterns=OWNED_PATTERNS)
    except Exception as exc:  # network, HTTP and auth errors from huggingface_hub / httpx
        detail = _first_line(exc)
        token = os.environ.get("HF_TOKEN")
        if token:
            detail = detail.replace(token, "***")
        raise UsageError(f"could not push to {repo_id}: {type(exc).__name__}: {detail}") from None
    return str(getattr(commit, "commit_url", commit))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "no details"


def add_arguments(parser) -> None:
    parser.add_argument("--dataset", required=True, help="folder written by 'emovit export'")
    parser.add_argument("--repo-id", required=True, help="e.g. your-name/emovit-instructions")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--revision", help="branch to push to (created if missing)")


def run(args) -> int:
    url = push_folder(args.dataset, args.repo_id, private=args.private, revision=args.revision)
    print(f"pushed: {url}")
    return 0

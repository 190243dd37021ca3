"""Abstract (Machajdik & Hanbury, ACM MM 2010; 280 abstract paintings rated by about 230 people), as it
unpacks: one flat folder::

    <root>/abstract_NNNN.jpg
    <root>/ABSTRACT_groundTruth.csv

The CSV is comma-separated with single-quoted fields: a header ``'','Amusement','Anger','Awe','Content',
'Disgust','Excitement','Fear','Sad'``, then one row per painting, ``'abstract_0001.jpg',1,0,3,...`` (the header
and its empty first field as the Graviti tensorbay loader reads them: fieldnames with the quotes stripped,
the file name under ``""``). Vote columns are found by their header names. The gold label is the emotion with
the unique top vote (``Content`` is contentment, ``Sad`` sadness); a painting whose top vote is tied is
excluded as the common protocol does (which keeps 228-229 of the 280) and quarantined as ``tied_votes``. The
vote counts are kept.

Entries: every data row of the CSV, and every image in the folder no row names (``unlabelled``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from builder.sources.heldout.base import Candidate, HeldoutReader, is_image_name, is_relative, normalised
from builder.sources.records import QuarantineEntry
from schemas.heldout import ABSTRACT_COLUMNS, ABSTRACT_TO_MIKELS, votes_column

LABEL_FILE = "ABSTRACT_groundTruth.csv"
#: A vote count this large cannot be a count of raters (and does not fit the table's 64-bit column).
MAX_VOTES = 2**63 - 1


def _unquote(text: str) -> str:
    return text.strip().strip("'").strip()


class AbstractReader(HeldoutReader):
    dataset = "abstract"
    title = "Abstract"
    layout = f"{LABEL_FILE} beside the abstract_NNNN.jpg paintings"

    def check_root(self) -> None:
        if not (self.root / LABEL_FILE).is_file():
            raise self.not_this_dataset(f"no {LABEL_FILE}")

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [_unquote(name).lower() for name in header]
        missing = [name for name in ABSTRACT_COLUMNS if name.lower() not in names]
        if missing:
            raise self.not_this_dataset(f"{LABEL_FILE} line 1: header has no column(s) "
                                        + ", ".join(repr(m) for m in missing))
        return {name: names.index(name.lower()) for name in ABSTRACT_COLUMNS}

    @staticmethod
    def _cells(line: str) -> list[str] | None:
        """The fields of one CSV line (``None`` when the csv module cannot split it: a NUL, a huge field)."""
        try:
            return next(csv.reader([line], quotechar="'", skipinitialspace=True), [])
        except csv.Error:
            return None

    def entries(self) -> Iterator[Candidate | QuarantineEntry]:
        lines = self.read_lines(self.root / LABEL_FILE)
        header = self._cells(lines[0]) if lines else []
        if header is None:
            raise self.not_this_dataset(f"{LABEL_FILE} line 1: not a CSV header line")
        columns = self._columns(header)
        width = max(columns.values()) + 1
        listed: set[str] = set()
        for number, line in enumerate(lines[1:], start=2):
            row = self._cells(line)
            where = f"{LABEL_FILE}:{number}"
            if row is None:
                yield self.reject(where, "malformed_line", f"{where}: not a CSV line", LABEL_FILE)
                continue
            if not any(cell.strip() for cell in row):
                continue
            name = normalised(_unquote(row[0])) if row else ""
            entry_id = name or where
            if name in listed:
                yield self.reject(entry_id, "duplicate_entry", f"{where}: {name} is listed again", LABEL_FILE, "id")
                continue
            listed.add(name)
            yield self._entry(entry_id, row, columns, width, where)
        for item in self.listing("."):
            if item.is_dir(follow_symlinks=False) or item.name == LABEL_FILE:
                continue
            if not is_image_name(item.name):
                self.note("ignored_files", item.name)
            elif item.name not in listed:
                yield self.reject(item.name, "unlabelled", f"{item.name}: painting not listed in {LABEL_FILE}",
                                  item.name, "label")

    def _entry(self, entry_id: str, row: list[str], columns: dict[str, int], width: int, where: str
               ) -> Candidate | QuarantineEntry:
        if not is_relative(entry_id) or "/" in entry_id:
            return self.reject(entry_id, "path_escape", f"{where}: {entry_id!r} is not a file of the folder; "
                               "not opened", LABEL_FILE, "image")
        if len(row) < width:
            return self.reject(entry_id, "malformed_line", f"{where}: expected {width} comma-separated fields, got "
                               f"{len(row)}", LABEL_FILE)
        try:
            votes = {name: int(_unquote(row[index])) for name, index in columns.items()}
        except ValueError as exc:
            return self.reject(entry_id, "malformed_line", f"{where}: vote counts must be integers ({str(exc)[:80]})",
                               LABEL_FILE)
        huge = [name for name, count in votes.items() if abs(count) > MAX_VOTES]
        if huge:
            return self.reject(entry_id, "out_of_range", f"{where}: vote count of {huge[0]} is out of range "
                               f"({str(votes[huge[0]])[:24]}...)", LABEL_FILE, votes_column(huge[0]))
        top = max(votes.values())
        leaders = [name for name, count in votes.items() if count == top]
        if len(leaders) > 1:
            return self.reject(entry_id, "tied_votes", f"{where}: {entry_id} top vote tied between "
                               f"{' and '.join(leaders)} ({top} each); excluded, as the common protocol does",
                               LABEL_FILE, "label")
        fields = {votes_column(name): count for name, count in votes.items()}
        return Candidate(entry_id, ABSTRACT_TO_MIKELS[leaders[0]], where, fields)

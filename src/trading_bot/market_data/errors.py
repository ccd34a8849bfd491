"""Errors about data files, with the file and line of every problem found."""

from __future__ import annotations

from collections.abc import Sequence


class DataFileError(Exception):
    """A data or signal file that cannot be used at all; `problems` lists each issue."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__(f"{path}: " + "; ".join(self.problems))

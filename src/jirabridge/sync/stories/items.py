"""The items of a stories file: epics, stories, and the problems found while reading them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ITEM_ID_PATTERN", "Epic", "ItemProblem", "Story", "StoryFile"]

#: A local id: stable across edits of the file, so a re-export finds the issue it made before.
ITEM_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _check_id(value: str) -> str:
    if not ITEM_ID_PATTERN.match(value):
        raise ValueError(
            "id must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


class Story(BaseModel):
    """A user story. ``epic`` is the local id of its epic (set from nesting when absent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1, max_length=255)
    story: str = ""
    description: str = ""
    acceptance_criteria: list[str] = []
    priority: str | None = None
    labels: list[str] = []
    points: float | None = Field(default=None, ge=0)
    components: list[str] = []
    epic: str | None = None

    _id = field_validator("id")(_check_id)

    @field_validator("labels")
    @classmethod
    def _labels_have_no_spaces(cls, value: list[str]) -> list[str]:
        for label in value:
            if not label or any(c.isspace() for c in label):
                raise ValueError(f"label {label!r} must be non-empty and contain no spaces")
        return value


class Epic(BaseModel):
    """An epic: a title, a description, labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1, max_length=255)
    description: str = ""
    labels: list[str] = []
    priority: str | None = None
    components: list[str] = []

    _id = field_validator("id")(_check_id)


@dataclass(frozen=True)
class ItemProblem:
    """A validation problem: which item (if known), where in the file (if known), what."""

    message: str
    item_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        item = f"[{self.item_id}] " if self.item_id else ""
        return f"{where}{item}{self.message}"


@dataclass
class StoryFile:
    """What a stories file holds once read: items in file order, and every problem found."""

    epics: list[Epic] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    problems: list[ItemProblem] = field(default_factory=list)
    #: The line each item starts on (when the format has lines), by item id.
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong with the file."""
        return not self.problems

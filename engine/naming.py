"""Cube's naming rules: SQL aliases and human titles derived from member names.

Cube derives both with the `inflection` package: `underscore` puts `_` before every capital,
`titleize` capitalises words except short English connectives.

>>> underscore("TrackedEvents")
'tracked_events'
>>> member_alias("TrackedEvents", "utcTime")
'tracked_events__utc_time'
>>> titleize("createdAt")
'Created at'
>>> titleize("id")
'ID'
"""

from __future__ import annotations

import re

_CAPITAL = re.compile(r"([A-Z])")

# Words `inflection.titleize` leaves in lower case (unless first in the title).
_LOWER_WORDS = frozenset(
    "and or nor a an the so but to of at by from into on onto off out in over with for".split()
)


def underscore(name: str) -> str:
    """camelCase / PascalCase -> snake_case, exactly as Cube's alias rule does it."""
    return _CAPITAL.sub(r"_\1", name).lstrip("_").lower()


def member_alias(cube_alias: str, member_name: str) -> str:
    """The SQL column alias of a member: `<cube alias>__<member snake name>`."""
    return f"{underscore(cube_alias)}__{underscore(member_name)}"


def titleize(name: str) -> str:
    """A member or cube name as Cube shows it: `isPaid` -> `Is Paid`, `createdAt` -> `Created at`."""
    words = underscore(name).replace("_", " ").split(" ")
    shown = []
    for word in words:
        if word == "id":
            shown.append("ID")
        elif word in _LOWER_WORDS:
            shown.append(word)
        else:
            shown.append(word[:1].upper() + word[1:])
    title = " ".join(shown)
    return title[:1].upper() + title[1:]

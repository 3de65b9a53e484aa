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


_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9]|[^A-Za-z0-9]|$)|[A-Z]?[a-z0-9]+|[A-Z]+")


def pascal_case(name: str) -> str:
    """`page_urlpath` -> `PageUrlpath`, `sessionID` -> `SessionId` (the camelcase package's rule:
    runs of capitals become one word)."""
    return "".join(word[:1].upper() + word[1:].lower() for word in _WORD.findall(name))


def titleize(name: str) -> str:
    """A member or cube name as Cube shows it: `isPaid` -> `Is Paid`, `createdAt` -> `Created at`,
    `user_id` -> `User ID`."""
    words = underscore(pascal_case(name)).split("_")
    shown = [word if word in _LOWER_WORDS else word[:1].upper() + word[1:] for word in words]
    title = " ".join(shown)
    title = title[:1].upper() + title[1:]
    return re.sub(r"\bId(s?)\b", lambda m: "ID" + m.group(1), title)

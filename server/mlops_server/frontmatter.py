"""README front matter: a YAML mapping between ``---`` lines at the very top of README.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

# libyaml's loader when PyYAML was built with it: same safe constructors, ~10x faster.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class ParsedReadme:
    metadata: dict[str, Any]
    body: str
    warnings: list[str] = field(default_factory=list)


def parse_readme(text: str) -> ParsedReadme:
    """Split a README into front matter and body.

    Bad YAML, or YAML that is not a mapping, gives empty metadata and a warning instead of
    an error: a broken README must never break the catalog.
    """
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return ParsedReadme({}, text)
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            header = "".join(lines[1:index])
            body = "".join(lines[index + 1 :]).lstrip()
            break
    else:
        return ParsedReadme({}, text, ["front matter: no closing '---' line"])
    try:
        data = yaml.load(header, Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        return ParsedReadme({}, body, [f"front matter: invalid YAML{where}"])
    if data is None:
        return ParsedReadme({}, body)
    if not isinstance(data, dict):
        return ParsedReadme({}, body, ["front matter: expected a mapping at the top level"])
    return ParsedReadme({str(k): v for k, v in data.items()}, body)

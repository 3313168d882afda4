"""The documentation holds together: every relative link resolves; the README stays a front door.

Every relative link (and image) in ``README.md`` and ``docs/**/*.md`` must name a file that
exists; a link with ``#anchor`` must name a heading of that file, slugged as GitHub does. Links
to other sites (``http:``, ``https:``, ``mailto:``) are not followed: the suite never needs the
internet. Text inside fenced code blocks and inline code is not Markdown and is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_BYTES = 20_480

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def markdown_files() -> list[Path]:
    """Return README.md and every Markdown file under docs/.

    Returns
    -------
    list of Path
        The files whose links are checked, README first.
    """
    return [README, *sorted((ROOT / "docs").rglob("*.md"))]


def prose_lines(text: str) -> list[str]:
    """Return the lines of a Markdown text outside fenced code blocks.

    Parameters
    ----------
    text : str
        The Markdown source.

    Returns
    -------
    list of str
        Every line not inside a ``` or ~~~ fence (the fence lines themselves excluded).
    """
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """Return the anchor GitHub gives a heading.

    Parameters
    ----------
    heading : str
        The heading's Markdown text, without the leading ``#`` marks.

    Returns
    -------
    str
        Lower case, inline code and link markup reduced to their text, every character that
        is not a letter, digit, underscore, hyphen or space removed, spaces turned into hyphens.
    """
    text = _INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Return the anchors of a Markdown file's headings, duplicates numbered as GitHub does.

    Parameters
    ----------
    path : Path
        A Markdown file.

    Returns
    -------
    set of str
        Every heading's slug; the second heading with the same slug gets ``-1``, and so on.
    """
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    """Return the link targets of a Markdown file that are not URLs of other sites.

    Parameters
    ----------
    path : Path
        A Markdown file.

    Returns
    -------
    list of str
        Targets of inline links, images and reference definitions, in order; those with a
        scheme (``https:``, ``mailto:``, ...) are left out.
    """
    targets: list[str] = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        ref = _REF_DEF.match(line)
        if ref:
            targets.append(ref.group(1))
            continue
        prose = _INLINE_CODE.sub("", line)
        targets.extend(match.group(1) for match in _LINK.finditer(prose))
    return [t for t in targets if t and not _EXTERNAL.match(t)]


def broken_links(path: Path) -> list[str]:
    """Return a message for each relative link of a file that does not resolve.

    Parameters
    ----------
    path : Path
        A Markdown file.

    Returns
    -------
    list of str
        ``"target: reason"`` per link whose file does not exist (or is a directory) or whose
        ``#anchor`` names no heading of that file.
    """
    problems: list[str] = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not linked.is_file():
            problems.append(f"{target}: no such file")
            continue
        if anchor and linked.suffix == ".md" and unquote(anchor).lower() not in anchors(linked):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    """Every relative link and image of the file names an existing file and heading."""
    assert broken_links(path) == []


def test_readme_is_a_front_door() -> None:
    """The README stays short: the rest of the documentation lives in docs/."""
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, over {README_MAX_BYTES}"


def test_the_checker_sees_broken_links(tmp_path: Path) -> None:
    """A missing file, a missing heading and a good anchor are told apart (the checker works)."""
    (tmp_path / "other.md").write_text("# Other page\n\n## Some `code` – here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[ok](other.md#some-code--here) [self](#page) [web](https://example.org/x)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) `[code](not-a-link.md)`\n"
        "```\n[fenced](fenced.md)\n```\n",
        encoding="utf-8",
    )
    assert github_slug("Export API and OGC API – Features") == "export-api-and-ogc-api--features"
    assert relative_links(page) == [
        "other.md#some-code--here",
        "#page",
        "missing.md",
        "other.md#nowhere",
    ]
    problems = broken_links(page)
    assert len(problems) == 2
    assert problems[0].startswith("missing.md: no such file")
    assert problems[1].startswith("other.md#nowhere: no heading #nowhere")

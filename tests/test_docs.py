"""The README is for users and the docs hold together (issue 27).

README.md stays under 15,000 bytes and has an Install section; every relative link in README.md and
docs/ (images included) names a file or folder of the repository, and every ``#anchor`` names a
heading of the page it points to, as GitHub renders its id.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose(text: str) -> list[str]:
    """The lines of a Markdown page outside fenced code blocks."""
    lines, fence = [], None
    for line in text.splitlines():
        marker = re.match(r"^\s*(```|~~~)", line)
        if marker and (fence is None or marker.group(1) == fence):
            fence = marker.group(1) if fence is None else None
            continue
        if fence is None:
            lines.append(line)
    return lines


def anchors(page: Path) -> set[str]:
    """The ids GitHub gives a page's headings: rendered text, lower case, punctuation dropped,
    spaces as hyphens, and -1, -2 … after repeats."""
    seen: dict[str, int] = {}
    for line in prose(page.read_text(encoding="utf-8")):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).replace("`", "").replace("*", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen.setdefault(f"{slug}-{count}", 1)
    return set(seen)


def links(page: Path) -> list[str]:
    """Every link target in a page's prose (inline code spans and code blocks left out)."""
    found = []
    for line in prose(page.read_text(encoding="utf-8")):
        found += LINK.findall(re.sub(r"`[^`]*`", "", line))
    return found


def broken(page: Path) -> list[str]:
    problems = []
    for target in links(page):
        if SCHEME.match(target):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or not dest.is_relative_to(REPO):
            problems.append(f"{page.relative_to(REPO)}: {target}: no such file in the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{page.relative_to(REPO)}: {target}: no heading #{anchor} in {dest.relative_to(REPO)}")
    return problems


def test_the_readme_is_for_users_under_15000_bytes_with_an_install_section():
    readme = REPO / "README.md"
    size = len(readme.read_bytes())
    assert size <= 15_000, f"README.md is {size} bytes; move what is not for users into docs/"
    assert "install" in anchors(readme), "README.md has no Install section"


def test_every_relative_link_in_the_readme_and_docs_resolves():
    assert len(PAGES) > 1 and all(links(page) for page in PAGES[:1])
    problems = [problem for page in PAGES for problem in broken(page)]
    assert not problems, "\n".join(problems)


def test_the_anchor_rule_is_githubs(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Hashes: checked before acting\n## `load_dataset(OUT)` and the `datasets` cache\n"
                    "```\n# not a heading\n```\n## Notes\n## Notes\n", encoding="utf-8")
    assert anchors(page) == {"hashes-checked-before-acting", "load_datasetout-and-the-datasets-cache",
                             "notes", "notes-1"}

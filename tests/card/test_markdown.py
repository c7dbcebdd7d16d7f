"""Hostile label and licence names (table pipes, line breaks, HTML, terminal escape sequences): the
card shows them as text (its Markdown rendered as the Hub would: CommonMark with GFM tables), and the
terminal shows each on one line with its control characters escaped."""

from __future__ import annotations

import csv

import pytest

from builder.card.markdown import code, text

from tests.helpers.cli import run_cli
from tests.helpers.layouts import tone

LABELS = ("x\n## Injected\n| evil |", "a|b", "<img src=x onerror=alert(1)>", "\x1b]0;pwned\x07\x1b[2J", "ok")
LICENCE = "CC BY --> <b>bold</b> | *x* [y](z)"


def _html(card: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(card.split("\n---\n", 1)[1])


def test_hostile_names_are_text_in_the_card_and_one_line_on_the_terminal(tmp_path):
    pytest.importorskip("markdown_it")
    src = tmp_path / "src"
    rows = [["filename", "primary_label", "license"]]
    for i, label in enumerate(LABELS):
        tone(src / label / f"r{i}.wav", 1.2, 500 + 100 * i)
        rows.append([f"{label}/r{i}.wav", label, LICENCE if i % 2 else "CC0"])
    for i in range(3):
        tone(src / "ok" / f"s{i}.wav", 1.2, 300 + 50 * i)
        rows.append([f"ok/s{i}.wav", "ok", "CC0"])
    with open(tmp_path / "labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = tmp_path / "out"
    done = run_cli("build", "examples/demo.yaml", "-o", out, "--set", f"source.path={src}", "--set",
                   f"source.labels={{csv: {tmp_path / 'labels.csv'}, keep_columns: [license]}}", "-j", "1")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "output.splits" in line]
    assert warnings and "\x1b" not in done.stderr and "x\\n## Injected\\n| evil |" in done.stderr
    assert not any(line.startswith(("## Injected", "| evil")) for line in done.stderr.splitlines())

    card = (out / "README.md").read_text()
    html = _html(card)
    assert "<img src=x" not in html and "<b>bold</b>" not in html and "<h2>Injected" not in html
    assert "\x1b" not in card and "<em>x</em>" not in html and 'href="z"' not in html
    table = html.split("<table>")[1].split("</table>")[0]  # Contents: one row per label, a cell per column
    columns = table.count("<th>")
    assert table.count("<tr>") == 1 + len(LABELS) + 1 and table.count("<td>") == columns * (len(LABELS) + 1)
    assert "<td>x\\n## Injected\\n| evil |</td>" in table and "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in table
    assert "<td>a|b</td>" in table and "<td>\\x1b]0;pwned\\x07\\x1b[2J</td>" in table
    assert "<code>x\\n## Injected\\n| evil |</code>" in html  # Bias: the rarest label, in a code span
    licences = html.split("<table>")[2].split("</table>")[0]
    assert "<td>CC BY --&gt; &lt;b&gt;bold&lt;/b&gt; | *x* [y](z)</td>" in licences

    from builder.card.provenance import relicense

    assert "<b>bold</b>" not in _html("---\n---\n" + relicense(card.split("\n---\n", 1)[1], "cc0-1.0"))
    assert f"| {text(LICENCE)} | 2 |" in relicense(card, "cc0-1.0")  # the hidden counts read back whole

    shown = run_cli("inspect", out)
    assert shown.returncode == 0 and "\x1b" not in shown.stdout and "    x\\n## Injected\\n| evil |" in shown.stdout


def test_text_and_code_escape_only_what_is_markup():
    assert text("game_sfx") == "game_sfx" and text("Turdus merula (Blackbird)") == "Turdus merula (Blackbird)"
    assert text("_a_ *b* `c` a|b <i> & $x$ ~y~ \\") == "\\_a\\_ \\*b\\* \\`c\\` a\\|b \\<i\\> \\& \\$x\\$ \\~y\\~ \\\\"
    assert code("dog") == "`dog`" and code("a`b") == "``a`b``" and code("`a") == "`` `a ``"
    assert code("a\nb") == "`a\\nb`"

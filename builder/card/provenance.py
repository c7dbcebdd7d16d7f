"""The card's trust sections (Sources, Uses, Personal and sensitive information, Licence, Citation),
and the edits a push makes to a built card: the real repo id, the licence chosen at push time.

The Licence section lists the recordings' licences (from a kept ``license``-like CSV column) with
counts, and warns when the dataset's licence grants more than one of them. The counts travel in
the card as an HTML comment (``<!-- spectroset:recording-licenses {...} -->``, invisible on the
Hub and Kaggle) so that a push with ``--license`` rewrites the section without the build.
"""

from __future__ import annotations

import json
import re
from collections import Counter

from ..config.licenses import described, hub_fields, hub_id, more_permissive, recording_license
from ..plan.names import plural
from .markdown import text

PLACEHOLDER = "OWNER/NAME"
_COUNTS = re.compile(r"<!-- spectroset:recording-licenses (\{.*?\}) -->")


def licence_column(plan) -> str | None:
    """The kept CSV column that holds each recording's licence (``license``, ``licence``, …)."""
    return next((name for name in plan.columns if "licen" in name.lower()), None)


def recording_licences(plan) -> dict[str, int]:
    """Each distinct licence cell → number of recordings, sorted by count then text."""
    column = licence_column(plan)
    if column is None:
        return {}
    cells = Counter(str(dict(e.columns).get(column) or "(not given)") for e in plan.entries.values())
    return dict(sorted(cells.items(), key=lambda kv: (-kv[1], kv[0])))


def conflicts(licence: str, counts: dict[str, int]) -> list[str]:
    """The recordings' licence cells that ``licence`` (either spelling) is more permissive than."""
    licence = hub_id(licence)
    return [cell for cell in counts if more_permissive(licence, recording_license(None if cell == "(not given)" else cell))]


def licence_section(licence: str, counts: dict[str, int], column: str | None) -> str:
    """The body of ``## Licence``."""
    if hub_id(licence) == "unknown":
        lines = ["No licence was set for this dataset (`license: unknown`): ask the recordings' rights holders "
                 "before reusing it, and set `publish.license` (or `--license`) once you know."]
    else:
        named = described(licence)  # the real name where the Hub's header can only say `other`
        lines = [f"The dataset is published under {named}. The spectrograms are derived from the recordings: "
                 "their licences still apply to each image."]
    if counts:
        lines += ["", f"Licences of the recordings (`{column}` column, recordings per value):", "",
                  "| licence | recordings |", "|---|---|"]
        lines += [f"| {text(cell)} | {n} |" for cell, n in counts.items()]
        bad = conflicts(licence, counts)
        if bad:
            lines += ["", f"**Warning:** `{licence}` grants more than the licence of "
                      f"{plural(sum(counts[c] for c in bad), 'recording')}: {'; '.join(map(text, bad[:5]))}{'; …' if len(bad) > 5 else ''}. Publish under the most "
                      "restrictive of them, or leave those recordings out."]
        lines += ["", f"Each row's `{column}` column names its recording's licence; keep the attribution columns "
                  "when you redistribute."]
    elif licence != "unknown":
        lines += ["", "The recordings' own licences are not recorded here: check that they allow this licence "
                  "(keep the source CSV's licence and author columns with `source.labels.keep_columns`)."]
    hidden = json.dumps(counts, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")  # no "-->" inside
    lines.append(f"\n<!-- spectroset:recording-licenses {hidden} -->")
    return "\n".join(lines) + "\n"


def trust_sections(build, licence: str, citation: str | None) -> list[str]:
    """Sources, Uses, Personal and sensitive information, Licence and Citation, as markdown."""
    plan, cfg = build.plan, build.cfg
    kept = list(plan.columns)
    hub = cfg.publish.hf
    sources = [f"{plural(len(plan.entries), 'recording')} from {cfg.source.origin}; each row's `source` names its recording."]
    if kept:
        sources.append(f"Columns kept from the source CSV on every row: {', '.join(f'`{c}`' for c in kept)}.")
    if hub.source_datasets:
        sources.append(f"Source datasets: {', '.join(hub.source_datasets)}.")
    uses = ("Training and evaluating audio classifiers on spectrogram images (image-classification models, "
            "transfer learning, augmentation studies). Not suitable for identifying people, and labels are only "
            "as good as the source's: check them before drawing ecological or medical conclusions.")
    location = [c for c in kept if c.lower() in ("latitude", "longitude", "lat", "lon", "lng", "location")]
    personal = ("Recordings may contain human speech or other sounds that identify people (voices, names, places); "
                "the spectrograms keep enough of them to be reconstructed approximately. Remove such recordings "
                "before publishing where you have no consent.")
    if location:
        personal += (f" The {', '.join(f'`{c}`' for c in location)} column(s) give where recordings were made; "
                     "for sensitive species or private land, round or drop them.")
    if "author" in {c.lower() for c in kept}:
        personal += " The `author` column names the recordists, for attribution."
    cite = citation.strip() if citation else None
    citation_text = (f"```bibtex\n{cite}\n```\n" if cite and cite.startswith("@") else f"{cite}\n" if cite else
                     "No citation was given (`publish.citation`). Cite the source recordings as their licences "
                     "ask, and this dataset by its URL.\n")
    return ["## Sources\n", "\n".join(sources) + "\n", "## Uses\n", uses + "\n",
            "## Personal and sensitive information\n", personal + "\n",
            "## Licence\n", licence_section(licence, recording_licences(plan), licence_column(plan)),
            "## Citation\n", citation_text]


def relicense(body: str, licence: str) -> str:
    """``body`` with its Licence section rewritten for ``licence`` (a Hub id)."""
    m = _COUNTS.search(body)
    counts = json.loads(m.group(1)) if m else {}
    column = re.search(r"\(`([^`]+)` column, recordings per value\)", body)
    return replace_section(body, "Licence", licence_section(licence, counts, column.group(1) if column else "license"))


def replace_section(body: str, title: str, text: str) -> str:
    """``body`` (markdown) with the text under ``## title`` (up to the next ``## ``) replaced."""
    pattern = rf"(^## {re.escape(title)}\n)(.*?)(?=^## |\Z)"
    return re.sub(pattern, lambda m: m.group(1) + "\n" + text + "\n", body, count=1, flags=re.S | re.M)


def card_conflicts(body: str, licence: str) -> list[str]:
    """The recordings' licences a built card lists that ``licence`` grants more than (for push's warning)."""
    m = _COUNTS.search(body)
    return conflicts(licence, json.loads(m.group(1))) if m else []


def retarget(text: str, repo_id: str | None, licence: str | None) -> str:
    """A built card (README.md text) for one push: the real repo id instead of the placeholder,
    and the licence chosen at push time in the header (as a Hub id) and the Licence section (as
    spelt: Kaggle's name on Kaggle)."""
    from huggingface_hub import DatasetCard

    card = DatasetCard(text)
    if licence is not None and (card.data.get("license") != hub_id(licence) or licence != hub_id(licence)):
        fields = hub_fields(licence)  # the header takes Hub ids (other: with its name and link)
        for key in ("license_name", "license_link"):
            card.data.pop(key, None)
        for key, value in fields.items():
            card.data[key] = value
        card.text = relicense(card.text, licence)  # the text names the licence as given
    if repo_id:
        card.text = card.text.replace(f'"{PLACEHOLDER}"', f'"{repo_id}"')
    return str(card)

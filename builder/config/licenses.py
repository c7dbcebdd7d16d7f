"""Licence names: Hugging Face Hub ids and Kaggle names, both ways, and recordings' free-text licences.

    hub_id("CC-BY-4.0") == "cc-by-4.0"      kaggle_name("cc-by-4.0") == "CC-BY-4.0"
    hub_id("not a licence")                 ValueError: ... closest: ...

A value is accepted in either spelling (case-insensitive) and mapped to each target's own. A Hub
id Kaggle has no name for goes to Kaggle as ``other`` (the description names the real one); a
Kaggle name the Hub has no id for goes to the Hub as ``other``. There is no default: no licence
is ``unknown`` on both, which is what a dataset of recordings we did not make honestly has.

:func:`recording_license` reads the licence cells of a source CSV (BirdCLEF's ``license`` column
holds ``"Creative Commons Attribution-NonCommercial-ShareAlike 4.0"`` or a URL) into Hub ids, and
:func:`more_permissive` tells when a dataset licence grants more than a recording's.
"""

from __future__ import annotations

import difflib
import re

# https://huggingface.co/docs/hub/repositories-licenses (the ids the Hub's card validator accepts)
HUB_IDS = (
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1",
    "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl", "apple-amlr", "mpl-2.0",
    "odc-by", "odbl", "openrail++", "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl",
    "lgpl-lr", "deepfloyd-if-license", "fair-noncommercial-research-license", "llama2", "llama3", "llama3.1",
    "llama3.2", "llama3.3", "llama4", "gemma", "unknown", "other",
)
# Kaggle name → Hub id, for every licence Kaggle's dataset-metadata.json accepts.
KAGGLE_TO_HUB = {
    "CC0-1.0": "cc0-1.0", "CC-BY-SA-3.0": "cc-by-sa-3.0", "CC-BY-SA-4.0": "cc-by-sa-4.0",
    "CC-BY-NC-SA-4.0": "cc-by-nc-sa-4.0", "GPL-2.0": "gpl-2.0", "ODbL-1.0": "odbl", "DbCL-1.0": "other",
    "copyright-authors": "other", "other": "other", "unknown": "unknown", "CC-BY-4.0": "cc-by-4.0",
    "CC-BY-NC-4.0": "cc-by-nc-4.0", "PDDL": "pddl", "CC-BY-3.0": "cc-by-3.0", "CC-BY-3.0-IGO": "other",
    "US-Government-Works": "other", "CC-BY-NC-SA-3.0-IGO": "other", "CDLA-Permissive-1.0": "cdla-permissive-1.0",
    "CDLA-Sharing-1.0": "cdla-sharing-1.0", "CC-BY-ND-4.0": "cc-by-nd-4.0", "CC-BY-NC-ND-4.0": "cc-by-nc-nd-4.0",
    "ODC-BY-1.0": "odc-by", "LGPL-3.0": "lgpl-3.0", "AGPL-3.0": "agpl-3.0", "FDL-1.3": "gfdl",
    "EU-ODP-Legal-Notice": "other", "apache-2.0": "apache-2.0", "GPL-3.0": "gpl-3.0",
}
HUB_TO_KAGGLE = {hub: kaggle for kaggle, hub in KAGGLE_TO_HUB.items() if hub != "other"} | {"other": "other"}
UNKNOWN = "unknown"
# The Kaggle names the Hub has no id for: (name in words, where its terms are). The Hub's card spec
# wants ``license: other`` with ``license_name`` (an id) and ``license_link`` (a URL, or a file of the
# repo) for them; ``copyright-authors`` has no public text, so its link is the card's own Licence section.
OTHER_LICENCES = {
    "DbCL-1.0": ("Open Data Commons Database Contents License 1.0", "https://opendatacommons.org/licenses/dbcl/1-0/"),
    "copyright-authors": ("Data files © original authors (all rights reserved)", "README.md"),
    "CC-BY-3.0-IGO": ("Creative Commons Attribution 3.0 IGO", "https://creativecommons.org/licenses/by/3.0/igo/"),
    "US-Government-Works": ("U.S. Government Works", "https://www.usa.gov/government-works"),
    "CC-BY-NC-SA-3.0-IGO": ("Creative Commons Attribution-NonCommercial-ShareAlike 3.0 IGO",
                            "https://creativecommons.org/licenses/by-nc-sa/3.0/igo/"),
    "EU-ODP-Legal-Notice": ("EU Open Data Portal legal notice (Commission Decision 2011/833/EU)",
                            "https://eur-lex.europa.eu/eli/dec/2011/833/oj"),
}


def _lookup(value: str) -> tuple[str, str] | None:
    """(Hub id, Kaggle name) for a value in either spelling, or None."""
    key = value.strip().lower()
    for name, hub in KAGGLE_TO_HUB.items():
        if name.lower() == key:
            return hub, name
    if key in HUB_IDS:
        return key, HUB_TO_KAGGLE.get(key, "other")
    return None


def suggestions(value: str, n: int = 3) -> list[str]:
    """The valid spellings closest to ``value`` (Hub ids and Kaggle names)."""
    kaggle_first = value != value.lower()  # answer in the spelling the user wrote: CC-BY-4 → CC-BY-4.0
    names = [*HUB_IDS, *KAGGLE_TO_HUB] if kaggle_first else [*KAGGLE_TO_HUB, *HUB_IDS]
    folded = {name.lower(): name for name in names}  # later wins
    close = difflib.get_close_matches(value.strip().lower(), list(folded), n=n, cutoff=0.4)
    return [folded[c] for c in close] or ["cc-by-4.0", "cc0-1.0", "other"]


def check(value: str) -> str:
    """``value`` as a Hub id; ``ValueError`` naming the closest valid ones when it is no licence."""
    found = _lookup(value)
    if found is None:
        raise ValueError(f"{value!r} is not a licence id; closest: {', '.join(suggestions(value))} "
                         "(Hub ids such as cc-by-4.0 or Kaggle names such as CC-BY-4.0; `unknown` if you cannot tell)")
    return found[0]


def hub_id(value: str | None) -> str:
    """The Hub's id for a licence in either spelling; ``unknown`` for None."""
    return UNKNOWN if value is None else check(value)


def hub_fields(value: str | None) -> dict[str, str]:
    """The card header's licence keys for a licence in either spelling: ``{"license": id}``, and for
    a licence the Hub has no id for, ``license: other`` with ``license_name`` and ``license_link``."""
    licence = hub_id(value)
    found = _lookup(value) if value is not None else None
    if licence != "other" or found is None or found[1] not in OTHER_LICENCES:
        return {"license": licence}
    return {"license": "other", "license_name": found[1].lower(), "license_link": OTHER_LICENCES[found[1]][1]}


def described(value: str | None) -> str:
    """A licence as the card's text names it (markdown): ``cc-by-4.0`` in backticks, or for one the
    Hub has no id for its name in words and where its terms are
    (``U.S. Government Works (`US-Government-Works`, <url>)``)."""
    licence = hub_id(value)
    found = _lookup(value) if value is not None else None
    if licence != "other" or found is None or found[1] not in OTHER_LICENCES:
        return f"`{licence if value is None else value.strip()}`"  # as spelt: Kaggle's name on Kaggle
    words, link = OTHER_LICENCES[found[1]]
    return f"{words} (`{found[1]}`" + (f", {link})" if link.startswith("http") else ")")


def kaggle_name(value: str | None) -> str:
    """Kaggle's name for a licence in either spelling; ``unknown`` for None, ``other`` where Kaggle has none."""
    if value is None:
        return UNKNOWN
    check(value)
    return _lookup(value)[1]


# --------------------------------------------------------------------------- recordings' licences

_CC_WORDS = (("attribution", "by"), ("noncommercial", "nc"), ("non-commercial", "nc"), ("sharealike", "sa"),
             ("share-alike", "sa"), ("noderivatives", "nd"), ("noderivs", "nd"), ("no-derivatives", "nd"))


def recording_license(text: str | None) -> str | None:
    """A licence cell as a Hub id: ``"Creative Commons Attribution-NonCommercial-ShareAlike 4.0"``,
    ``"http://creativecommons.org/licenses/by-nc-sa/4.0/"``, ``"CC BY 4.0"``, ``"cc-by-4.0"`` →
    ``cc-by-nc-sa-4.0`` …; None for an empty cell or text we cannot read."""
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    known = _lookup(raw)
    if known:
        return known[0]
    low = raw.lower()
    if "publicdomain/zero" in low or re.search(r"\bcc\s*0\b|\bcc0\b|public domain dedication", low):
        return "cc0-1.0"
    if "publicdomain" in low or "public domain" in low:
        return "pddl"
    parts: list[str] = []
    url = re.search(r"creativecommons\.org/licenses/([a-z-]+)/(\d\.\d)", low)
    if url:
        parts, version = url.group(1).split("-"), url.group(2)
    elif "creative commons" in low or re.match(r"cc[\s-]", low):
        words = re.sub(r"creative commons", " ", low)
        for word, short in _CC_WORDS:
            if word in words:
                words = words.replace(word, " ")
                parts.append(short)
        parts += [p for p in re.split(r"[\s-]+", words) if p in ("by", "nc", "sa", "nd")]
        version_match = re.search(r"(\d\.\d)", low)
        version = version_match.group(1) if version_match else "4.0"
    if not parts:
        return None
    ordered = [p for p in ("by", "nc", "nd", "sa") if p in parts]
    candidate = f"cc-{'-'.join(ordered)}-{version}"
    if candidate.replace("-nd-sa", "-sa") != candidate:  # nd and sa exclude each other
        return None
    return candidate if candidate in HUB_IDS else "other"


def _terms(hub: str) -> set[str] | None:
    """What a licence asks of a reuser, as a set of CC terms; None when we cannot tell."""
    if hub in ("cc0-1.0", "pddl", "unlicense", "wtfpl"):
        return set()
    m = re.fullmatch(r"cc-(by(?:-nc)?(?:-nd|-sa)?)-\d\.\d", hub)
    if m:
        return set(m.group(1).split("-"))
    if hub in ("odc-by", "cdla-permissive-1.0", "cdla-permissive-2.0", "mit", "apache-2.0", "bsd-3-clause"):
        return {"by"}
    if hub in ("odbl", "cdla-sharing-1.0"):
        return {"by", "sa"}
    return None


def more_permissive(dataset: str, recording: str | None) -> bool:
    """Whether ``dataset`` (a Hub id) grants something ``recording``'s licence does not: it leaves
    out one of its terms (attribution, non-commercial, share-alike, no-derivatives). A recording of
    unknown licence is treated as all rights reserved, so only ``unknown``/``other`` pass it."""
    if dataset in (UNKNOWN, "other"):
        return False
    wanted, granted = _terms(recording) if recording else None, _terms(dataset)
    if wanted is None:
        return True
    return granted is None or not wanted <= granted

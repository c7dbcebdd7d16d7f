"""What a finished build's splits and folds lack: a warning line for the empty or incomplete ones.

A split or fold without a label cannot score that label, and with a few recordings per label
(or folds of one or two recordings) that happens silently: only zeros in the card's table showed
it. :func:`coverage_warnings` turns the build record's counts (splits: windows per label and split,
exact) and the plan's folds (a fold holds a label when one of its recordings that decoded has it:
its ``label``, or with events the labels of its events) into lines the pipeline logs, stderr
from the CLI, shown with ``-q`` as every warning is: one line per split, one for the folds.
"""

from __future__ import annotations

from ..errors import one_line
from .names import plural

SHOWN_LABELS = 8  # labels named per line; the rest are counted
SHOWN_FOLDS = 5  # folds named in the folds' line; the rest are counted


def coverage_warnings(plan, record: dict) -> list[str]:
    """Warning lines for the splits and folds of a build (``plan``: its ``DatasetPlan``; ``record``:
    its build record), empty when every split and fold holds every label: the splits asked for
    (``output.splits``) or, with ``source.keep_splits``, the source dataset's own."""
    if not record.get("windows"):
        return []  # nothing built: the CLI's error says so
    cfg, kept = plan.cfg.output.splits, plan.cfg.source.keep_splits
    sizes, lines, names = record["splits"], [], plan.split_names
    empty = [k for k in names if not sizes.get(k)]
    if empty and kept:
        lines.append(f"warning: source.keep_splits: {', '.join(empty)} of the source dataset got no window (its "
                     "recordings were skipped or gave none)")
    elif empty:
        lines.append(f"warning: output.splits: {', '.join(empty)} got no window ({record['sources']} recording(s) "
                     f"split by {'recording' if cfg.by == 'source' else 'window'}); use larger fractions or more "
                     "recordings" + ("; a label with fewer recordings than splits keeps all of them in "
                                     f"{next(iter(cfg.fractions))}" if cfg.by == "source" and cfg.stratify else ""))
    if not plan.labelled:
        return lines
    counts = {label: c for label, c in record["counts"].items() if label != "(none)"}
    none = sorted(label for label, c in counts.items() if not sum(c.values()))
    if none:
        lines.append(f"warning: {_lacks(none, len(counts))} got no window in any split: every recording of them was "
                     "skipped or gave none (see skipped in build.json); their ClassLabel ids have no row")
    if len(names) > 1:
        key, why = ("source.keep_splits", "the source dataset's own splits do not have them") if kept else \
            ("output.splits", _why(cfg))
        for split in names:
            missing = sorted(label for label, c in counts.items() if not c.get(split) and label not in none)
            if missing and split not in empty:
                lines.append(f"warning: {key}: {split} has no window of {_lacks(missing, len(counts))}; {why}")
    return lines + _folds(plan, record)


def _why(cfg) -> str:
    """Why a split of ``output.splits`` lacks labels, by how windows are placed."""
    if cfg.by == "source":
        return "too few recordings of them to spread over the splits"
    if cfg.stratify:
        return "too few windows of them to spread over the splits"
    return "by: window with stratify: false draws each window's split by a seeded hash; stratify: true spreads them"


def _folds(plan, record: dict) -> list[str]:
    if not plan.cfg.output.folds:
        return []
    built = set(record.get("durations", ()))
    held: dict[int, set[str]] = {f: set() for f in range(plan.n_folds)}
    spec = plan.events
    for rel, e in plan.entries.items():
        if e.fold is None or rel not in built:
            continue
        labels = ({ev.label for ev in e.events} or {spec.background}) if spec else {e.label}
        held.setdefault(e.fold, set()).update(labels - {None})
    everything = set().union(*held.values())
    empty = [f for f, labels in sorted(held.items()) if not labels]
    lines = []
    if empty:
        one = len(empty) == 1
        lines.append(f"warning: output.folds: {'fold' if one else 'folds'} {', '.join(map(str, empty))} (of "
                     f"0-{len(held) - 1}) got no window ({'its' if one else 'their'} recordings were skipped or gave "
                     "none); lower output.folds or add recordings")
    lacking = [(f, sorted(everything - labels)) for f, labels in sorted(held.items()) if labels and everything - labels]
    if lacking:
        named = "; ".join(f"fold {f} lacks {_names(missing)}" for f, missing in lacking[:SHOWN_FOLDS])
        more = f"; {plural(len(lacking) - SHOWN_FOLDS, 'more fold')} too" if len(lacking) > SHOWN_FOLDS else ""
        lines.append(f"warning: output.folds: {len(lacking)} of {plural(len(held), 'fold')} "
                     f"{'lacks' if len(lacking) == 1 else 'lack'} labels of the "
                     f"{len(everything)} in train ({named}{more}); a label needs as many train recordings as folds "
                     "to be in every fold")
    return lines


def _lacks(missing: list[str], total: int) -> str:
    """``3 of 13 labels (a, b, c)``."""
    return f"{len(missing)} of {plural(total, 'label')} ({_names(missing)})"


def _names(labels: list[str]) -> str:
    """``a, b, c``, capped at :data:`SHOWN_LABELS` names and a count of the rest."""
    more = f", … ({len(labels) - SHOWN_LABELS} more)" if len(labels) > SHOWN_LABELS else ""
    return ", ".join(map(one_line, labels[:SHOWN_LABELS])) + more  # a label's line break or ESC stays on the line

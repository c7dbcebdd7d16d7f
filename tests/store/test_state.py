"""The journal hands back the results a build committed as objects (no JSON to decode at its end):
they must be exactly what decoding their rows gives, and forgotten where the rows are."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from builder.store import state
from builder.run import worker
from builder.config.loading import load_config
from builder.store.state import Journal, decode_result
from builder.run.worker import FileJob

REPO = Path(__file__).resolve().parents[2]


def _committed(tmp_path, *overrides):
    """A real recording's result, as the pipeline commits it, and the journal it is in."""
    path = sorted((REPO / "examples" / "demo-audio").rglob("*.wav"))[0]
    cfg = load_config(REPO / "examples" / "demo.yaml",
                      [f"output.path={tmp_path / 'out'}", f"source.path={path.parent}", *overrides])
    result = worker.process_file(FileJob(str(path), path.name, "1:1", cfg))
    assert result.rows and result.reason is None
    for row in result.rows:  # what the sink leaves in a row once its image is written
        row.png = None
    (tmp_path / "out" / ".spectroset").mkdir(parents=True)
    journal = Journal(tmp_path / "out", (worker.FileResult, worker.Row))
    journal.put(result.rel, "1:1", result, [])
    return journal, result


def _decoded(journal, rel: str):
    (text,) = journal.db.execute("SELECT record FROM units WHERE rel=?", (rel,)).fetchone()
    return decode_result(text, (worker.FileResult, worker.Row))


def _same(a, b) -> None:
    """Field by field: equal values of the same types (arrays: dtype, shape and bytes)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "rows":
            assert len(x) == len(y)
            for r, s in zip(x, y):
                _same(r, s)
        elif isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape
            assert x.tobytes() == y.tobytes(), f.name
        else:
            assert type(x) is type(y) and x == y, (f.name, x, y)


def test_a_committed_result_comes_back_as_decoding_its_row_would_give(tmp_path):
    for n, extra in enumerate([(), ("output.include.arrays=true",)]):
        journal, result = _committed(tmp_path / str(n), *extra)
        kept = journal.get(result.rel)
        assert kept is result  # not decoded again
        _same(kept, _decoded(journal, result.rel))
        totals = journal.get(result.rel, rows=False)
        assert totals.rows == [] and result.rows  # the kept result keeps its rows
        _same(totals, dataclasses.replace(_decoded(journal, result.rel), rows=[]))
        journal.close()


def test_past_the_budget_results_come_from_the_database(tmp_path, monkeypatch):
    monkeypatch.setattr(state, "KEEP_BYTES", 100)
    journal, result = _committed(tmp_path)
    again = journal.get(result.rel)
    assert again is not result
    _same(again, result)


def test_deleted_and_cleared_results_are_forgotten(tmp_path):
    journal, result = _committed(tmp_path)
    journal.delete([result.rel])
    assert journal.get(result.rel) is None and journal.get(result.rel, rows=False) is None
    journal.put(result.rel, "1:1", result, [])
    journal.clear()
    assert journal.get(result.rel) is None

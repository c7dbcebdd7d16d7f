"""One owner per decision (issue 27): store spells every name of spectroset's own bookkeeping and
imports nothing above it; plan answers where every window goes, and the layouts and workers use
its answer; the mirror layout is a class."""

from __future__ import annotations

import ast
from pathlib import Path

from builder.config.loading import load_config
from builder.layouts.imagefolder import ImageFolderLayout, MirrorLayout
from builder.layouts.select import get_layout
from builder.plan.dataset import make_plan
from builder.plan.names import end_tag
from builder.sources.discover import SourceFile
from builder.store import state_dir

REPO = Path(__file__).resolve().parents[2]
BUILDER = REPO / "builder"
# What each package may import (imports inside functions count; ``if TYPE_CHECKING:`` ones do not).
BELOW = {"store": {"store", "config", "dsp", "errors"},
         "plan": {"plan", "sources", "store", "config", "dsp", "errors"},
         "layouts": {"layouts", "card", "run", "plan", "sources", "store", "config", "dsp", "errors"}}


def _code(path: Path) -> ast.Module:
    """The module without its ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = [ast.Pass()]
    return tree


def _imported_packages(path: Path) -> set[str]:
    package = path.parent.name
    found = set()
    for node in ast.walk(_code(path)):
        if isinstance(node, ast.ImportFrom) and node.level:
            parts = (node.module or "").split(".")
            if node.level == 1:
                found.add(package)
            elif node.level == 2:  # from ..x import y, or from .. import x
                found.add(parts[0] if node.module else node.names[0].name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found |= {n.split(".")[1] for n in names if n.startswith("builder.") and n.count(".") >= 1}
    return {p.removesuffix(".py") for p in found}


def test_store_plan_and_layouts_import_only_what_is_below_them():
    wrong = {f"{path.relative_to(BUILDER)} imports {sorted(_imported_packages(path) - allowed)}"
             for package, allowed in BELOW.items() for path in sorted((BUILDER / package).glob("*.py"))
             if _imported_packages(path) - allowed}
    assert not wrong


def test_every_name_under_the_state_folder_is_spelled_in_one_module():
    spelled = []
    for path in sorted(BUILDER.rglob("*.py")):
        tree = _code(path)
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        spelled += [f"{path.relative_to(BUILDER)}:{n.lineno}" for n in ast.walk(tree)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
                    and ".spectroset" in n.value]
    assert spelled and all(s.startswith("store/state_dir.py:") for s in spelled), spelled


def _plan(tmp_path, *overrides):
    sources = [SourceFile(f"/x/{label}/r{i}.wav", f"{label}/r{i}.wav", label, (), 1, 1)
               for label in ("birds", "frogs") for i in range(4)]
    cfg = load_config(REPO / "examples" / "demo.yaml", [f"output.path={tmp_path / 'out'}", f"source.path={tmp_path}",
                                                        *overrides])
    return cfg, make_plan(cfg, sources, windows=lambda s: 10)


def test_the_plan_places_every_window_and_the_worker_target_asks_it(tmp_path):
    cfg, plan = _plan(tmp_path, "output.splits={train: 0.5, test: 0.5, by: window}")
    layout = get_layout(cfg, cfg.output.path, plan)
    assert type(layout) is ImageFolderLayout
    splits = set()
    for i in range(40):
        split, path = plan.place("birds/r0.wav", i, 1.5 + i)
        assert path == f"{split}/birds/r0_{end_tag(1.5 + i)}.png"
        assert layout.target("birds/r0.wav").image_rel(i, 1.5 + i) == layout.image_rel("birds/r0.wav", i, 1.5 + i) == path
        splits.add(split)
    assert splits == {"train", "test"}  # drawn per window, by the plan alone


def test_mirror_is_a_layout_class_with_no_split_folders(tmp_path):
    cfg, plan = _plan(tmp_path, "output.layout=mirror", "output.splits={train: 1.0}")
    layout = get_layout(cfg, cfg.output.path, plan)
    assert isinstance(layout, MirrorLayout) and layout.name == "mirror" and not layout.spool
    assert plan.place("frogs/r2.wav", 3, 2.5) == ("train", "frogs/r2_2.5.png")
    assert layout.metadata_rel("train") == "metadata.parquet" and layout.data_files() == {"train": "**"}
    assert state_dir.intent_log("frogs/r2.wav").startswith(".spectroset/intent/")

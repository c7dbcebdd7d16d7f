"""The inside-the-root rule (``builder/store/paths.py``): a path below a root must resolve to its own name
there; any link on the way is refused with the link named, the root itself may be a link."""

from __future__ import annotations

import pytest

from builder.errors import BuildError, OutsideRootError
from builder.store.paths import inside, owned


@pytest.fixture
def root(tmp_path):
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    (out / "notes").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "outward").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (out / "inward").symlink_to(out / "notes", target_is_directory=True)
    (out / "train" / "linked.png").symlink_to(tmp_path / "elsewhere" / "x.png")
    return out


def test_plain_paths_resolve_to_their_names_and_the_root_may_be_a_link(root, tmp_path):
    assert owned(root, "train/a/x.png") == root.resolve() / "train" / "a" / "x.png"
    (tmp_path / "named").symlink_to(root, target_is_directory=True)  # the user named a link as OUT
    assert owned(tmp_path / "named", "train/x.png") == root.resolve() / "train" / "x.png"
    assert owned(root, "train/linked.png") is not None  # the last part is replaced or unlinked, never followed


@pytest.mark.parametrize("rel, why", [("outward/x.png", "resolves outside the output folder"),
                                      ("inward/x.png", "inward/x.png would not be where its name says"),
                                      ("inward/deeper/x.png", "would not be where its name says")])
def test_a_link_on_the_way_is_named_wherever_it_points(root, rel, why):
    with pytest.raises(OutsideRootError, match=why) as raised:
        owned(root, rel)
    link = rel.split("/")[0]
    assert isinstance(raised.value, BuildError) and raised.value.link == str(root / link)
    assert str(raised.value).startswith(f"{root / link} is a link (to ")
    assert inside(root, rel) is None


def test_whole_checks_the_last_part_too_and_unsafe_names_are_refused(root):
    assert inside(root, "outward", whole=True) is None and inside(root, "outward") is not None
    with pytest.raises(OutsideRootError, match="linked.png is a link"):
        owned(root, "train/linked.png", whole=True)
    for rel in ("../x", "/etc/passwd", "a//b", ""):
        assert inside(root, rel) is None
        with pytest.raises(OutsideRootError, match="not a plain path inside the output folder"):
            owned(root, rel)

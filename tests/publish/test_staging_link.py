"""The default staging folder of a URL output (``$XDG_CACHE_HOME/spectroset/staging/<hash>``) is
spectroset's own: a link there to a user's folder is refused with one line naming it, and nothing
is built into the user's folder or mirrored to the URL."""

from __future__ import annotations

from pathlib import Path

from builder.publish.url import staging_dir

from tests.helpers.cli import cli_env, run_cli, write_config, write_tone


def test_a_linked_default_staging_folder_is_refused(tmp_path: Path):
    src = tmp_path / "src"
    write_tone(src / "a" / "one.wav", 1.0)
    write_tone(src / "b" / "two.wav", 1.0, freq=700)
    target, cache, mine = tmp_path / "remote" / "ds", tmp_path / "cache", tmp_path / "mine"
    mine.mkdir()
    env = cli_env(XDG_CACHE_HOME=str(cache))
    link = cache / "spectroset" / "staging" / staging_dir(target.as_uri(), None).name
    link.parent.mkdir(parents=True)
    link.symlink_to(mine, target_is_directory=True)
    done = run_cli("build", write_config(tmp_path / "cfg.yaml", src), "-o", target.as_uri(), "-j", "1", "--quiet",
                   env=env)
    assert list(mine.iterdir()) == []  # nothing built into the user's folder
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and lines[0].startswith(f"error: {link} is a link"), done.stderr
    assert not target.exists()

"""The Ray executor: the same build on a local Ray instance gives the same bytes as a local build."""

from __future__ import annotations

import logging
import shutil
import sys

import pytest

from builder.errors import BuildError, ConfigError
from builder.run.executors import make_executor
from builder.config.loading import load_config
from builder.pipeline import build
from tests.helpers.demo import DEMO, demo_config, snapshot


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray instance (2 CPUs) for the module: starting one costs seconds."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'spectroset[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


def test_ray_build_equals_local_build_byte_for_byte(tmp_path, ray_session):
    local, remote = demo_config(tmp_path / "local"), demo_config(tmp_path / "ray")
    build(local, workers=1, progress=False)
    report = build(remote, workers=2, executor="ray", progress=False)
    assert report.decoded == 18 and report.skipped == []
    assert snapshot(remote.output.path) == snapshot(local.output.path)
    assert ray_session.is_initialized()  # a session the executor did not start is left running


def test_ray_tasks_read_url_sources(tmp_path, ray_session):
    local, remote = demo_config(tmp_path / "local"), demo_config(tmp_path / "ray", source=DEMO.as_uri())
    build(local, workers=1, progress=False)
    build(remote, workers=2, executor="ray", progress=False)
    ours, ref = snapshot(remote.output.path), snapshot(local.output.path)
    del ours["build.json"], ref["build.json"]  # it quotes the source path's config hash
    assert ours == ref


def test_ray_resumes_from_the_journal_of_a_local_build(tmp_path, ray_session):
    src = tmp_path / "audio"
    shutil.copytree(DEMO, src)
    held_back = tmp_path / "tabla_na.flac"
    shutil.move(src / "tabla" / "tabla_na.flac", held_back)
    cfg = demo_config(tmp_path / "mixed", source=src)
    build(cfg, workers=1, progress=False)
    shutil.move(held_back, src / "tabla" / "tabla_na.flac")
    report = build(cfg, workers=2, executor="ray", progress=False)
    # The added recording, and at most one other: the whole's split counts grew by one, so one
    # label's rounding top-up may have moved (splits.assign_sources).
    assert report.decoded + report.reused == 18 and 1 <= report.decoded <= 2
    fresh = demo_config(tmp_path / "fresh", source=src)
    build(fresh, workers=1, progress=False)
    assert snapshot(cfg.output.path) == snapshot(fresh.output.path)


def test_an_error_raised_in_a_task_reaches_the_driver_as_itself(ray_session):
    pool = make_executor("ray", 2)
    try:
        with pytest.raises(ConfigError, match="no such config file"):
            list(pool.map_unordered(load_config, ["/nonexistent/spectroset.yaml"]))
    finally:
        pool.close()
    assert ray_session.is_initialized()


def test_device_cuda_on_a_cluster_without_gpus_fails_before_any_task(tmp_path, ray_session):
    if ray_session.cluster_resources().get("GPU"):
        pytest.skip("this Ray instance has a GPU")
    cfg = demo_config(tmp_path, "spectrogram.device=cuda")
    with pytest.raises(BuildError, match="Ray cluster has no GPU"):
        build(cfg, workers=2, executor="ray", progress=False)


def test_missing_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(ConfigError, match=r'pip install "spectroset\[ray\]"'):
        make_executor("ray", 2)


def test_ray_build_to_a_url_output_mirrors_the_local_bytes(tmp_path, ray_session):
    """Tasks write into the staging folder (seen by this one-node instance); the driver mirrors it."""
    import fsspec

    from builder.config.loading import load_config as load
    from tests.helpers.demo import REPO

    url = f"memory://ray-{tmp_path.name}/ds"
    cfg = load(REPO / "examples" / "demo.yaml", [f"output.path={url}", f"output.staging={tmp_path / 'staging'}",
                                                 f"source.path={DEMO}", "output.layout=parquet"])
    report = build(cfg, workers=2, executor="ray", progress=False)
    assert report.url == url and report.uploaded > 0
    local = demo_config(tmp_path / "local", "output.layout=parquet")
    build(local, workers=1, progress=False)
    fs = fsspec.filesystem("memory")
    root = url.removeprefix("memory://")
    ours = {f[len(root) + 2:]: fs.cat_file(f) for f in fs.find(root)}
    ref = {k: (local.output.path / k).read_bytes() for k in snapshot(local.output.path)}
    del ours["build.json"], ref["build.json"], ours["README.md"], ref["README.md"]  # they name the output
    assert ours == ref
    fs.rm(root, recursive=True)

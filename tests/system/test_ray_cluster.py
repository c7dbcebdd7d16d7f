"""A Ray cluster of two nodes (two raylets on this machine, Ray's own test cluster): tasks on both
nodes write images, spools and shards into the shared output folder, and the bytes equal a local
build's. Driven from the CLI with ``--address``, as a user would."""

from __future__ import annotations

import logging

import pytest

from builder.config.loading import load_config
from builder.pipeline import build
from tests.helpers.layouts import RICH
from tests.helpers.demo import DEMO, REPO, snapshot
from tests.helpers.cli import run_cli


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray", reason="ray is not installed (pip install 'spectroset[ray]')")
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    ray.init(address=nodes.address, log_to_driver=False, logging_level=logging.ERROR)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    ray.shutdown()
    yield nodes
    nodes.shutdown()


@pytest.mark.parametrize("layout", ["imagefolder", "parquet"])
def test_a_two_node_cluster_build_equals_a_local_build(tmp_path, cluster, layout):
    sets = [f"source.path={DEMO}", *(RICH if layout == "parquet" else ())]
    local = load_config(REPO / "examples" / "demo.yaml", [f"output.path={tmp_path / 'local' / 'out'}", *sets])
    build(local, workers=1, progress=False)
    config = tmp_path / "demo.yaml"
    config.write_text((REPO / "examples" / "demo.yaml").read_text())
    out = tmp_path / "cluster" / "out"
    done = run_cli("build", config, "-o", out, "--executor", "ray", "--address", cluster.address,
                   *[arg for s in sets for arg in ("--set", s)])
    assert done.returncode == 0, done.stderr
    assert snapshot(out) == snapshot(local.output.path)
    again = run_cli("build", config, "-o", out, "--executor", "ray", "--address", cluster.address,
                    *[arg for s in sets for arg in ("--set", s)])
    assert again.returncode == 0 and "up to date" in again.stdout


def test_without_an_address_a_private_instance_starts_beside_a_running_cluster(tmp_path, cluster):
    """``--executor ray`` alone must not join (or fail on) a cluster someone started on this machine."""
    out = tmp_path / "out"
    done = run_cli("build", REPO / "examples" / "demo.yaml", "-o", out, "--executor", "ray", "-j", "2",
                   "--set", f"source.path={DEMO}", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (out / "build.json").is_file()

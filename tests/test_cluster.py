"""The cluster: cluster.yaml against the autoscaler's own schema (unit), and a run on a real multi-node Ray
cluster on this machine (``ray.cluster_utils.Cluster``: a head and worker nodes as separate raylets; e2e),
driven as a user drives it: ``tailorcast run --ray-address``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers.samples import ROOT


def test_cluster_yaml_is_valid_for_the_autoscaler_and_autoscales():
    import jsonschema
    import ray

    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    jsonschema.validate(config, schema)
    workers = config["available_node_types"]["ray.worker.default"]
    assert workers["min_workers"] < workers["max_workers"] <= config["max_workers"]
    assert config["available_node_types"][config["head_node_type"]]["resources"] == {"CPU": 0}  # the head renders nothing


def test_a_config_the_autoscaler_would_refuse_fails_the_schema():
    import jsonschema
    import ray

    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["available_node_types"]["ray.worker.default"]["min_workers"] = "one"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


# --- a real multi-node cluster on this machine ----------------------------------------------------------------


@pytest.fixture
def cluster():
    """A head that renders nothing (0 CPUs, as in cluster.yaml) and two worker nodes of one CPU each, as separate raylets."""
    import os

    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    yield c, workers
    c.shutdown()


def _complete(out: Path, rows: list[dict], renditions=("wide", "tall")) -> None:
    """Every customer listed once, published, with every file of every rendition."""
    assert len({r["customer_id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["status"] in ("ok", "skipped"), r
        names = {p.name for p in (out / "c" / r["token"]).iterdir()}
        assert names == {"index.html", "captions.en.vtt", *(f"video-{x}.mp4" for x in renditions), *(f"poster-{x}.jpg" for x in renditions)}


@pytest.mark.e2e
def test_a_run_spreads_over_the_nodes_of_a_cluster(cluster, tmp_path):
    from helpers.driver import finish, manifest, start_run, tiny_customers

    c, _ = cluster
    template, customers = tiny_customers(tmp_path, 16)
    out = tmp_path / "pub"
    assert finish(start_run(template, customers, str(out), tmp_path / "state", "--ray-address", c.address, "--run-id", "spread")) == 0
    rows = manifest(out, "spread")
    assert len(rows) == 16
    _complete(out, rows)
    assert len({r["node"] for r in rows}) == 2  # both worker nodes rendered; the head (0 CPUs) none


@pytest.mark.e2e
def test_a_worker_node_killed_mid_run_loses_no_customer(cluster, tmp_path):
    from helpers.driver import finish, manifest, pages, start_run, tiny_customers, wait_for

    c, workers = cluster
    template, customers = tiny_customers(tmp_path, 120)
    out = tmp_path / "pub"
    proc = start_run(template, customers, str(out), tmp_path / "state", "--ray-address", c.address, "--run-id", "lost-node")
    wait_for(lambda: len(pages(out)) >= 15, what="the first pages")
    # lost while it renders a batch (not between two): its customers in flight must be rendered again elsewhere
    wait_for(lambda: _rendering(workers[0]), every=0.02, what="the node to be rendering a batch")
    c.remove_node(workers[0], allow_graceful=False)  # a lost spot instance: its raylet and workers die at once
    assert len(pages(out)) < 120, "the run finished before the node was lost: give it more customers"
    assert finish(proc) == 0, (tmp_path / "state" / "run.log").read_text()[-3000:]
    rows = manifest(out, "lost-node")
    assert len(rows) == 120 and len(pages(out)) == 120
    _complete(out, rows)
    # the lost batch ran again: by Ray (its task retried on the other node: attempts stay 1) or, when Ray's own
    # retries were spent first, by the run (attempts > 1, each with the worker error); which of the two is Ray's timing
    retried = [r for r in rows if r["attempts"] > 1]
    assert all(any(e.startswith("worker error") for e in r["attempt_errors"]) for r in retried)


def _rendering(node) -> bool:
    """Whether a worker process of ``node`` (a child of its raylet) is running a batch of customers now."""
    from ray._private import ray_constants

    from helpers.driver import parent_pid

    raylet = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or parent_pid(int(proc.name)) != raylet:
            continue
        try:
            if (proc / "cmdline").read_bytes().startswith(b"ray::render_batch"):
                return True
        except OSError:  # ended meanwhile
            continue
    return False

"""verl in real Ray workers: a local Ray cluster with 2 CPU workers runs a remote task that
imports verl in a fresh worker process (nothing of maxk imported before), gets the maxk
estimator from verl's registry by name, and computes the same advantages as the driver.

This is what the ``verl.plugins`` entry point promises: ``import verl`` loads
``maxk.integrations.verl`` in every process, the Ray workers of verl's trainer included.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ray_init, require

torch = require("torch")
require("verl")
ray = require("ray")


@pytest.mark.slow
def test_fresh_ray_workers_find_maxk_in_verls_registry():
    from verl.trainer.ppo import core_algos

    rewards = torch.zeros(8, 3)
    rewards[:, -1] = torch.tensor([1.0, 0.0, 0.5, 0.0, 0.0, 1.0, 1.0, 0.25])
    mask = torch.ones(8, 3)
    uid = np.array(["a"] * 4 + ["b"] * 4, dtype=object)
    config = {"maxk_k": 2}
    driver, _ = core_algos.get_adv_estimator_fn("maxpo")(rewards, mask, index=uid, config=config)

    ray_init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:

        @ray.remote(num_cpus=1)
        def worker_advantages(rewards, mask, uid, config):
            import os
            import sys

            before = sorted(m for m in sys.modules if m == "maxk" or m.startswith(("maxk.", "verl")))
            import verl  # noqa: F401 - loads every verl.plugins entry point, maxk's among them
            from verl.trainer.ppo import core_algos

            fn = core_algos.get_adv_estimator_fn("maxpo")
            adv, returns = fn(rewards, mask, index=uid, config=config)
            return {"pid": os.getpid(), "before": before, "module": fn.__module__, "adv": adv, "returns": returns}

        results = ray.get([worker_advantages.remote(rewards, mask, uid, config) for _ in range(2)], timeout=600)
    finally:
        ray.shutdown()
    import os

    for result in results:
        assert result["pid"] != os.getpid()
        assert result["before"] == []  # a fresh worker: neither maxk nor verl imported before the task
        assert result["module"] == "maxk.integrations.verl"
        torch.testing.assert_close(result["adv"], driver, rtol=0, atol=0)
        torch.testing.assert_close(result["returns"], driver, rtol=0, atol=0)

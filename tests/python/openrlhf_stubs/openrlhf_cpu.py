"""Makes OpenRLHF 0.11.2 (installed with --no-deps) importable on a CPU-only machine.

OpenRLHF's advantage step (`openrlhf.trainer.ppo_utils.experience_maker`) and its CLI
(`openrlhf.cli.train_ppo_ray`) import GPU-only packages at module level (deepspeed, vLLM, flash
attention, through `openrlhf.models` and `openrlhf.trainer.ray`). Like OpenRLHF's own
tests/test_reward_shaping.py, this stubs exactly those imports and loads every other module from
the installed package, so the code under test (the experience maker, `openrlhf.models.utils`,
the CLI's argparse block) is OpenRLHF's own.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import types


def _package(name: str, path: list[str] | None = None, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = path or []
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__spec__.submodule_search_locations = module.__path__
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def _stub_class(name: str) -> type:
    return type(name, (), {})


def install_stubs() -> None:
    """Registers the stubs in sys.modules (idempotent)."""
    if "openrlhf.trainer.ray" in sys.modules and getattr(sys.modules["openrlhf.trainer.ray"], "_maxk_stub", False):
        return
    spec = importlib.util.find_spec("openrlhf")
    if spec is None:
        return
    root = os.path.dirname(spec.origin)
    # openrlhf.models: only utils.py is needed (compute_reward); its __init__ imports the actor.
    _package("openrlhf.models", [os.path.join(root, "models")])
    _load_models_utils(os.path.join(root, "models", "utils.py"))
    # openrlhf.trainer.ray: the Ray actor classes (deepspeed, vLLM).
    import openrlhf.trainer  # noqa: F401  (the real, empty package)

    ray_pkg = _package(
        "openrlhf.trainer.ray",
        [os.path.join(root, "trainer", "ray")],
        _maxk_stub=True,
        create_vllm_engines=lambda *a, **k: None,
        batch_vllm_engine_call=lambda *a, **k: None,
    )
    _package(
        "openrlhf.trainer.ray.launcher",
        RayActorGroup=_stub_class("RayActorGroup"),
        ReferenceModelActor=_stub_class("ReferenceModelActor"),
        RewardModelActor=_stub_class("RewardModelActor"),
    )
    _package("openrlhf.trainer.ray.ppo_actor", PolicyModelActor=_stub_class("PolicyModelActor"))
    _package("openrlhf.trainer.ray.ppo_critic", CriticModelActor=_stub_class("CriticModelActor"))
    ray_pkg.launcher = sys.modules["openrlhf.trainer.ray.launcher"]
    # openrlhf.utils: __init__ imports get_strategy (deepspeed); submodules load from the package.
    _package("openrlhf.utils", [os.path.join(root, "utils")], get_strategy=_record_args_and_stop)


def _load_models_utils(path: str) -> None:
    """openrlhf/models/utils.py imports deepspeed at the top but uses it only in functions this
    test never calls. A deepspeed stub is visible only while the file runs: left in sys.modules
    it would make transformers believe deepspeed is installed."""
    name = "openrlhf.models.utils"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    stubbed = "deepspeed" not in sys.modules and importlib.util.find_spec("deepspeed") is None
    if stubbed:
        sys.modules["deepspeed"] = types.ModuleType("deepspeed")
    try:
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        if stubbed:
            del sys.modules["deepspeed"]
    sys.modules["openrlhf.models"].utils = module


def _record_args_and_stop(args):
    """Stands in for get_strategy, the first thing train() does after ray.init: records the
    parsed arguments to $MAXK_OPENRLHF_OUT and stops the run."""
    out = os.environ.get("MAXK_OPENRLHF_OUT")
    if out:
        import ray

        record = {
            "advantage": vars(args.algo.advantage),
            "n_samples_per_prompt": args.rollout.n_samples_per_prompt,
            "ray_init": getattr(ray, "_maxk_init_kwargs", None),
        }
        with open(out, "w") as f:
            json.dump(record, f, default=str)
    raise SystemExit(0)


def fake_ray_init() -> None:
    """ray.init that records its arguments and starts nothing (for the CLI test)."""
    import ray

    state = {"initialized": False}

    def init(*args, **kwargs):
        if ray._maxk_init_kwargs is None:
            ray._maxk_init_kwargs = kwargs
        state["initialized"] = True

    ray._maxk_init_kwargs = None
    ray.init = init
    ray.is_initialized = lambda: state["initialized"]

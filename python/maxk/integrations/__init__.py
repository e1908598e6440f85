"""Drop-in adapters that make every maxk estimator selectable in RL frameworks.

- :mod:`maxk.integrations.verl`: registers the estimators in verl's advantage-estimator registry
  (loaded automatically through the ``verl.plugins`` entry point, in the driver and every Ray
  worker).
- :mod:`maxk.integrations.trl`: :class:`~maxk.integrations.trl.MaxKGRPOTrainer`, a TRL
  ``GRPOTrainer`` whose advantages come from maxk (also under Unsloth, imported first).
- :mod:`maxk.integrations.openrlhf`: a launcher (``python -m maxk.integrations.openrlhf``) and
  patch that adds the estimators to OpenRLHF's ``--algo.advantage.estimator``.
- :mod:`maxk.integrations.swift`: an ms-swift plugin (``--external_plugins``) whose GRPO
  advantages come from maxk, in its HF, Megatron and Ray trainers.
- :mod:`maxk.integrations.skyrl`: a launcher (``python -m maxk.integrations.skyrl``) that
  registers the estimators in SkyRL's registry.
- :mod:`maxk.integrations.slime`: slime's ``--custom-reward-post-process-path`` hook.
- :mod:`maxk.integrations.rllm`: registers the estimators in rLLM's registry.

Every adapter reads the same settings through :class:`maxk.integrations._common.Settings`
(estimator, K or K schedule, scale, small-group rule, default ``zero``) and logs the same
``maxk/*`` diagnostics. Each module imports its framework, so import only the one you use.
"""

#: The adapter modules, ``maxk.integrations.<name>``.
ADAPTERS = ("verl", "trl", "openrlhf", "swift", "skyrl", "slime", "rllm")

"""Drop-in adapters that make every maxk estimator selectable in RL frameworks.

- :mod:`maxk.integrations.verl`: registers the estimators in verl's advantage-estimator registry
  (loaded automatically through the ``verl.plugins`` entry point).
- :mod:`maxk.integrations.trl`: :class:`~maxk.integrations.trl.MaxKGRPOTrainer`, a TRL
  ``GRPOTrainer`` whose advantages come from maxk.
- :mod:`maxk.integrations.openrlhf`: a launcher (``python -m maxk.integrations.openrlhf``) and
  patch that adds the estimators to OpenRLHF's ``--algo.advantage.estimator``.

Each module imports its framework, so import only the one you use.
"""

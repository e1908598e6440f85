"""Loaded at start-up of the subprocesses of test_openrlhf.py (this folder is on PYTHONPATH)."""

import os

if os.environ.get("MAXK_OPENRLHF_STUBS") == "1":
    import openrlhf_cpu

    openrlhf_cpu.install_stubs()
    if os.environ.get("MAXK_FAKE_RAY_INIT") == "1":
        openrlhf_cpu.fake_ray_init()

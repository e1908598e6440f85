"""Pretrained models for the examples and studies (optional; needs torch + transformers + gguf).

Nothing here is imported by ``import maxk``; import :mod:`maxk.models.gguf` explicitly.
"""

"""Synthetic but structured workloads (attention maps built from real photographs)."""

__all__ = []

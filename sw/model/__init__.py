"""Workload, performance, EMA and energy model of the processor; ``sdproc reproduce``."""

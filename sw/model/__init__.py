"""Workload, performance, EMA and energy model of the processor; ``sdproc reproduce``.

``unet`` builds the Stable Diffusion v1.5 U-Net layer table, ``perf`` the cycles on the DBSC
array, ``ema`` the DRAM traffic per class, ``energy`` the energy from published tables,
``measure`` runs the golden models on the structured data, ``sources`` finds benchmark and
synthesis outputs, ``evaluate`` combines them, ``reproduce`` is the command (docs/model.md).
"""

__all__ = ["unet", "perf", "ema", "energy", "measure", "sources", "evaluate", "reproduce"]

"""Client of the Camelyon16 context-region patch service.

PatchClient (HTTP: /samples, /batches, /slides/{id}/region), iterate_patches (plain NumPy, across
epochs) and PatchDataset (a PyTorch IterableDataset, sharded by DataLoader worker and distributed
rank). PyTorch is optional: it is imported only when PatchDataset is first used.
"""
from typing import Any

from .client import DEFAULT_TIMEOUT, BatchStreamError, MultiScaleSample, PatchClient, Sample, ServiceError, class_index, decode_image, decode_mask, near
from .numpy_iter import iterate_patches

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TIMEOUT",
    "BatchStreamError",
    "MultiScaleSample",
    "PatchClient",
    "PatchDataset",
    "Sample",
    "ServiceError",
    "class_index",
    "decode_image",
    "decode_mask",
    "iterate_patches",
    "near",
    "worker_shard",
]


def __getattr__(name: str) -> Any:
    # PEP 562: `from camelyon_patches import PatchDataset` imports torch then, and only then.
    if name in ("PatchDataset", "worker_shard"):
        from . import torch_dataset

        return getattr(torch_dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

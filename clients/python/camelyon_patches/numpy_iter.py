"""Plain NumPy iteration over epochs of patches, without PyTorch."""
from __future__ import annotations

import itertools
from typing import Any, Dict, Iterator, Optional, Union

from .client import AnySample, PatchClient

__all__ = ["iterate_patches"]


def iterate_patches(client: Union[PatchClient, str], request: Dict[str, Any], epochs: Optional[int] = None) -> Iterator[AnySample]:
    """Yields the samples of `request` epoch after epoch, streaming each epoch from POST /batches.

    client: a PatchClient, or a base URL to make one from. request: the /samples body; its
    `epoch` (default 0) is the first epoch, and each following epoch is the next integer, so
    every epoch is a new permutation of patches. epochs: how many epochs, or None for no end.
    `shard`/`shards` in the request are kept: several processes can each iterate their shard.
    A shard larger than the service streams at once is fetched in parts (PatchClient.stream).

    Each item is a Sample (image H x W x 3 uint8, mask H x W uint8, descriptor dict), or with
    `scales` in the request a MultiScaleSample (a list of images and of masks, one per scale); the
    epoch of an item is the one it was requested for (the descriptor's `index` restarts at 0).
    """
    own = isinstance(client, str)
    patches = PatchClient(client) if isinstance(client, str) else client
    first = int(request.get("epoch", 0))
    try:
        for epoch in itertools.count(first) if epochs is None else range(first, first + epochs):
            yield from patches.stream(**{**request, "epoch": epoch})
    finally:
        if own:
            patches.close()

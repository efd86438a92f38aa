"""A PyTorch IterableDataset that streams POST /batches, one shard per DataLoader worker and rank.

The service splits an epoch of `count` patches into `shards` disjoint shards (shard s holds the
indices s, s + shards, s + 2 * shards, ...), which together are exactly the epoch. Here every
DataLoader worker of every distributed rank takes its own shard:

    shard  = rank * num_workers + worker_id
    shards = world_size * num_workers

so each sample of the epoch is loaded exactly once across the whole job, with no coordination
beyond the (rank, worker) numbers PyTorch already has.

Ordered mode (``block_size=`` the DataLoader's batch size), for jobs that resume mid-epoch: the
service deals the epoch's indices in blocks of ``block_size`` (blockSize), and a DataLoader takes
batches from its workers round-robin, so block g is the g-th batch when worker w holds the blocks
w, w + W, ... Then the job sees the epoch in index order whatever the number of workers W:

    global batch g (step t of rank r) = block t * R + r
    worker w of rank r, resuming after t0 steps:
        shard  = R * ((t0 + w) mod W) + r,  shards = R * W
        start  = ((t0 + w) div W) * block_size   (position within that shard)

state_dict() / load_state_dict() carry (epoch, position = samples each rank consumed); a job may
resume with another number of workers and still get the same batches in the same order.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch.utils.data import IterableDataset, get_worker_info

from .client import DEFAULT_TIMEOUT, MultiScaleSample, PatchClient, Timeout, shard_indices

__all__ = ["PatchDataset", "distributed_rank", "worker_shard"]


def distributed_rank() -> Tuple[int, int]:
    """(rank, world_size): from torch.distributed when its process group is initialised, else
    from the RANK and WORLD_SIZE environment variables (as torchrun sets them), else (0, 1)."""
    initialised = _initialised_rank()
    if initialised is not None:
        return initialised
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world_size} do not describe a rank of a job")
    return rank, world_size


def _initialised_rank() -> Optional[Tuple[int, int]]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return None


def worker_shard(rank: Optional[int] = None, world_size: Optional[int] = None) -> Tuple[int, int]:
    """(shard, shards) of the calling DataLoader worker (or of the main process, when loading
    without workers): shard = rank * num_workers + worker_id, shards = world_size * num_workers."""
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    if rank is None or world_size is None:
        rank, world_size = distributed_rank()
    return rank * workers + worker, world_size * workers


class PatchDataset(IterableDataset):
    """Streams the patches of `request` (the POST /samples body) for the current epoch.

    Yields (image, mask, descriptor): image a C x H x W tensor, float32 in [0, 1] (or uint8 0..255
    with float_images=False); mask an H x W uint8 tensor of class values (use .long() for a
    loss); descriptor the sample's dict (index, slideId, x, y, class, classValue, fractions, ...).
    With fill_fractions (default) the descriptor's `fractions` names every class of the taxonomy
    (0.0 where absent), so the default collate_fn can batch descriptors.

    With `scales` in the request (several scales around one centre), it yields (images, masks,
    descriptor) with one tensor per scale in each list, in the order asked (the default collate_fn
    makes them lists of batched tensors, one per scale); each of the descriptor's `scales` has its
    fractions filled too.

    Call set_epoch(e) before each epoch: every epoch is a new permutation of patches. The epoch is
    held in a shared-memory tensor that workers read each time they start an epoch, so set_epoch
    reaches them with or without persistent_workers=True.

    `shard`/`shards` must not be in the request: they come from the worker and the rank. rank and
    world_size can be given explicitly; otherwise torch.distributed says them when its process
    group is initialised (when the dataset is made, when it is handed to spawned workers, or in a
    forked worker), else the RANK/WORLD_SIZE environment variables (torchrun sets them), else 0/1. For equal work per rank (DDP needs the same
    number of steps on each), choose `count` as a multiple of world_size * num_workers * batch_size.

    transform: an optional callable (image, mask, descriptor) -> anything, applied per sample.
    Each worker process opens its own HTTP session; timeout, retries and api_key are passed to
    its PatchClient.
    """

    def __init__(
        self,
        base_url: str,
        request: Dict[str, Any],
        *,
        epoch: Optional[int] = None,
        float_images: bool = True,
        fill_fractions: bool = True,
        transform: Optional[Callable[[torch.Tensor, torch.Tensor, Dict[str, Any]], Any]] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retries: int = 4,
        api_key: Optional[str] = None,
        block_size: Optional[int] = None,
    ):
        super().__init__()
        request = dict(request)
        for key in ("shard", "shards", "start", "limit", "blockSize"):
            if key in request:
                raise ValueError(f"PatchDataset sets `{key}` from the DataLoader worker and the rank: leave it out of the request")
        if (rank is None) != (world_size is None):
            raise ValueError("give both rank and world_size, or neither")
        if rank is None:
            rank, world_size = _initialised_rank() or (None, None)
        if rank is not None and not 0 <= rank < world_size:  # type: ignore[operator]
            raise ValueError(f"rank {rank} is not a rank of a job of {world_size}")
        self.base_url = base_url
        # Shared memory: persistent DataLoader workers keep their copy of the dataset, but this
        # tensor is the same memory in the main process and in every worker (fork or spawn).
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.epoch = int(request.pop("epoch", 0) if epoch is None else epoch)
        self.request = request
        self.float_images = float_images
        self.fill_fractions = fill_fractions
        self.transform = transform
        self.rank = rank
        self.world_size = world_size
        self.timeout = timeout
        self.retries = retries
        self.api_key = api_key
        self._client: Optional[PatchClient] = None
        self._pid: Optional[int] = None
        self._class_names: Optional[List[str]] = None
        if block_size is not None and int(block_size) < 1:
            raise ValueError("block_size must be at least 1 (the DataLoader's batch size)")
        self.block_size = None if block_size is None else int(block_size)
        #: Samples of this epoch each rank has consumed (advance() moves it; a resume starts there).
        self.position = 0

    @property
    def epoch(self) -> int:
        """The epoch the next iteration streams (shared with the DataLoader's workers)."""
        return int(self._epoch[0])

    @epoch.setter
    def epoch(self, epoch: int) -> None:
        self._epoch[0] = int(epoch)

    def set_epoch(self, epoch: int) -> None:
        if int(epoch) != self.epoch:
            self.position = 0
        self.epoch = int(epoch)

    def advance(self, samples: int) -> None:
        """Count `samples` more as consumed by this rank (call it with each batch's size, in the
        training loop, before a checkpoint)."""
        self.position += int(samples)

    def state_dict(self) -> Dict[str, Any]:
        """Where the epoch stands, to save with a checkpoint (the PyTorch convention)."""
        return {"epoch": self.epoch, "position": self.position, "block_size": self.block_size, "request": dict(self.request)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue from a state_dict(): the next iteration starts at its position of its epoch.
        The request must be the one the state was saved with; resuming mid-epoch needs ordered
        mode (block_size) and a position on a batch boundary."""
        if dict(state.get("request", self.request)) != self.request:
            raise ValueError("the state was saved for another request")
        position = int(state["position"])
        if position and self.block_size is None:
            raise ValueError("resuming mid-epoch needs block_size (the DataLoader's batch size)")
        if position and self.block_size is not None and position % self.block_size:
            raise ValueError(f"position {position} is not on a batch boundary of block_size {self.block_size}")
        if state.get("block_size") not in (None, self.block_size):
            raise ValueError(f"the state was saved with block_size {state.get('block_size')}, this dataset has {self.block_size}")
        self.epoch = int(state["epoch"])
        self.position = position

    def worker_request(self) -> Dict[str, Any]:
        """The /batches request of the calling worker (see the module's docstring for the mapping)."""
        if self.block_size is None:
            shard, shards = self.shard()
            return {**self.request, "epoch": self.epoch, "shard": shard, "shards": shards}
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        rank, world = (self.rank, self.world_size) if self.rank is not None else distributed_rank()
        t0 = self.position // self.block_size
        shard = world * ((t0 + worker) % workers) + rank
        start = ((t0 + worker) // workers) * self.block_size
        return {**self.request, "epoch": self.epoch, "shard": shard, "shards": world * workers, "blockSize": self.block_size, "start": start}

    def shard(self) -> Tuple[int, int]:
        """(shard, shards) this process would stream now."""
        return worker_shard(self.rank, self.world_size)

    def __iter__(self) -> Iterator[Any]:
        client = self._process_client()
        names = self._names(client) if self.fill_fractions else None
        request = self.worker_request()
        if "count" in request and "start" in request and request["start"] > len(shard_indices(int(request["count"]), request["shard"], request["shards"], self.block_size or 1)):
            return  # this worker's part of the epoch was consumed before the resume
        for sample in client.stream(**request):
            descriptor = sample.descriptor
            if names is not None:
                descriptor = {**descriptor, "fractions": _filled(descriptor.get("fractions", {}), names)}
                if "scales" in descriptor:
                    descriptor["scales"] = [{**sc, "fractions": _filled(sc.get("fractions", {}), names)} for sc in descriptor["scales"]]
            if isinstance(sample, MultiScaleSample):
                image: Any = [self._image_tensor(im) for im in sample.images]
                mask: Any = [torch.from_numpy(m) for m in sample.masks]
            else:
                image, mask = self._image_tensor(sample.image), torch.from_numpy(sample.mask)
            yield self.transform(image, mask, descriptor) if self.transform is not None else (image, mask, descriptor)

    def _image_tensor(self, image: Any) -> torch.Tensor:
        """H x W x 3 uint8 -> C x H x W, float in [0, 1] unless float_images=False."""
        t = torch.from_numpy(image).permute(2, 0, 1).contiguous()
        return t.to(torch.float32).div_(255.0) if self.float_images else t

    def _process_client(self) -> PatchClient:
        # One session per process: connections must not be shared across fork.
        pid = os.getpid()
        if self._client is None or self._pid != pid:
            self._client = PatchClient(self.base_url, timeout=self.timeout, retries=self.retries, api_key=self.api_key)
            self._pid = pid
        return self._client

    def _names(self, client: PatchClient) -> List[str]:
        if self._class_names is None:
            self._class_names = [str(c["name"]) for c in client.classes()["items"]]
        return self._class_names

    def __getstate__(self) -> Dict[str, Any]:
        state = self.__dict__.copy()
        state["_client"] = None
        state["_pid"] = None
        if state["rank"] is None:
            # Pickled for spawned workers (DataLoader workers of mp.spawn-launched DDP processes
            # are spawned too): they start without the process group, so take the rank along.
            rank = _initialised_rank()
            if rank is not None:
                state["rank"], state["world_size"] = rank
        return state


def _filled(given: Dict[str, Any], names: List[str]) -> Dict[str, float]:
    """Fractions naming every class of the taxonomy (0.0 where absent), so descriptors collate."""
    fractions = {n: float(given.get(n, 0.0)) for n in names}
    fractions.update((n, float(f)) for n, f in given.items() if n not in fractions)
    return fractions

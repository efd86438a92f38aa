"""Resuming an epoch mid-way (PatchDataset.state_dict / load_state_dict, ordered mode) against a
running service (SERVICE_URL): the resumed run continues the same batches in the same order, also
with another number of DataLoader workers. Run by test/clients/python.test.ts."""
import os
import unittest

from camelyon_patches import PatchClient
from camelyon_patches.client import shard_indices

SERVICE_URL = os.environ.get("SERVICE_URL")

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

BATCH = 4
COUNT = 24


def setUpModule():
    global BASE
    if not SERVICE_URL:
        raise unittest.SkipTest("SERVICE_URL is not set: these tests need a running service")
    with PatchClient(SERVICE_URL, timeout=(5, 60)) as client:
        items = client.classes()["items"]
    labelled = sorted((c for c in items if c["value"] != 0 and c["areaPx"] > 0), key=lambda c: -c["areaPx"])
    if not labelled:
        raise unittest.SkipTest("the service's dataset has no labelled class")
    BASE = {"classes": [c["name"] for c in labelled[:2]], "minFraction": 0.3, "size": 32, "level": 0, "count": COUNT, "seed": 5}


class ShardIndicesTest(unittest.TestCase):
    def test_blocks_are_dealt_round_robin(self):
        self.assertEqual(shard_indices(10, 1, 2, 3), [3, 4, 5, 9])
        self.assertEqual(shard_indices(10, 2, 3), [2, 5, 8])
        self.assertEqual(sorted(i for s in range(3) for i in shard_indices(23, s, 3, 4)), list(range(23)))


@unittest.skipUnless(HAVE_TORCH, "torch is not installed (apt-get install python3-torch): PatchDataset not tested")
class ResumeTest(unittest.TestCase):
    def loader(self, ds, workers):
        from torch.utils.data import DataLoader

        return DataLoader(ds, batch_size=BATCH, num_workers=workers, timeout=60 if workers else 0)

    def dataset(self):
        from camelyon_patches import PatchDataset

        return PatchDataset(SERVICE_URL, BASE, float_images=False, block_size=BATCH)

    def flat(self, batches):
        """(index, image bytes) per sample, in the order the loader delivered them."""
        return [(int(d["index"][k]), image[k].numpy().tobytes()) for image, _, d in batches for k in range(image.shape[0])]

    def test_ordered_mode_delivers_the_epoch_in_index_order_for_any_worker_count(self):
        for workers in (0, 2, 3):
            got = self.flat(list(self.loader(self.dataset(), workers)))
            self.assertEqual([i for i, _ in got], list(range(COUNT)), f"{workers} workers")

    def test_a_run_cut_after_k_batches_resumes_with_other_workers_byte_identical(self):
        whole = self.flat(list(self.loader(self.dataset(), 0)))
        for before, after, k in ((2, 3, 3), (3, 1, 1), (1, 2, 5)):
            ds = self.dataset()
            head = []
            for n, batch in enumerate(self.loader(ds, before)):
                head.append(batch)
                ds.advance(batch[0].shape[0])
                if n + 1 == k:
                    break  # the job is stopped here: its loader and workers are dropped
            state = ds.state_dict()
            self.assertEqual(state["position"], k * BATCH)
            resumed = self.dataset()
            resumed.load_state_dict(state)
            tail = list(self.loader(resumed, after))
            self.assertEqual(self.flat(head) + self.flat(tail), whole, f"{before} -> {after} workers after {k} batches")

    def test_states_that_cannot_resume_are_refused(self):
        from camelyon_patches import PatchDataset

        ds = self.dataset()
        with self.assertRaises(ValueError):
            ds.load_state_dict({"epoch": 0, "position": 3, "block_size": BATCH, "request": BASE})
        with self.assertRaises(ValueError):
            ds.load_state_dict({"epoch": 0, "position": 4, "block_size": BATCH, "request": {**BASE, "seed": 6}})
        with self.assertRaises(ValueError):
            PatchDataset(SERVICE_URL, BASE).load_state_dict({"epoch": 0, "position": 4, "block_size": None, "request": BASE})
        ds.set_epoch(1)
        self.assertEqual(ds.state_dict()["position"], 0)


if __name__ == "__main__":
    unittest.main()

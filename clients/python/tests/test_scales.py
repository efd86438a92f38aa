"""Several scales around one centre (`scales` in the request) through the client: NumPy batches
(MultiScaleSample) and PatchDataset in a real 2-worker DataLoader, each scale equal to the
/slides/{id}/region pixels and labels of its rectangle. Needs SERVICE_URL (see test_client.py)."""
import os
import unittest

import numpy as np

from camelyon_patches import MultiScaleSample, PatchClient, iterate_patches

SERVICE_URL = os.environ.get("SERVICE_URL")

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

CLIENT = None
REQUEST = None
#: A fine scale sampled at level 0, a coarser one by level and a coarse one by mpp (different sizes).
SCALES = [{"level": 0, "size": 64}, {"level": 1, "size": 48}, {"mpp": 2.0, "size": 32}]


def setUpModule():
    global CLIENT, REQUEST
    if not SERVICE_URL:
        raise unittest.SkipTest("SERVICE_URL is not set: these tests need a running service")
    CLIENT = PatchClient(SERVICE_URL, timeout=(5, 60))
    items = CLIENT.classes()["items"]
    labelled = sorted((c for c in items if c["value"] != 0 and c["areaPx"] > 0), key=lambda c: -c["areaPx"])
    if not labelled:
        raise unittest.SkipTest("the service's dataset has no labelled class")
    REQUEST = {"classes": [c["name"] for c in labelled[:2]], "minFraction": 0.5, "count": 8, "seed": 5, "scales": SCALES, "format": "npy"}


def tearDownModule():
    if CLIENT is not None:
        CLIENT.close()


def region_of(d, scale, k, layer="image"):
    """The /region call a descriptor's scale k names, as NumPy."""
    sc = d["scales"][k]
    res = {"level": scale["level"]} if "level" in scale else {"mpp": scale["mpp"]}
    return CLIENT.region(d["slideId"], sc["x"], sc["y"], sc["width"], sc["height"], layer=layer, **res)


class MultiScaleBatchTest(unittest.TestCase):
    def test_each_scale_is_its_region_exactly(self):
        items = CLIENT.samples(**REQUEST)["items"]
        got = list(CLIENT.batch(**REQUEST))
        self.assertEqual([s.index for s in got], list(range(8)))
        self.assertEqual([s.descriptor for s in got], items)
        for s in got:
            self.assertIsInstance(s, MultiScaleSample)
            self.assertEqual([im.shape for im in s.images], [(64, 64, 3), (48, 48, 3), (32, 32, 3)])
            self.assertEqual([m.shape for m in s.masks], [(64, 64), (48, 48), (32, 32)])
            for k, scale in enumerate(SCALES):
                np.testing.assert_array_equal(s.images[k], region_of(s.descriptor, scale, k))
                np.testing.assert_array_equal(s.masks[k], region_of(s.descriptor, scale, k, "mask"))
            self.assertEqual(s.class_index, REQUEST["classes"].index(s.descriptor["class"]))

    def test_iterate_patches_and_jpeg_batches_carry_the_scales_too(self):
        got = list(iterate_patches(CLIENT, {**REQUEST, "format": "jpeg", "count": 3}, epochs=1))
        self.assertEqual([s.index for s in got], [0, 1, 2])
        for s in got:
            self.assertEqual([im.shape for im in s.images], [(64, 64, 3), (48, 48, 3), (32, 32, 3)])
            # JPEG masks stay PNG: exact labels
            np.testing.assert_array_equal(s.masks[2], region_of(s.descriptor, SCALES[2], 2, "mask"))


@unittest.skipUnless(HAVE_TORCH, "torch is not installed (apt-get install python3-torch): PatchDataset not tested")
class MultiScaleTorchTest(unittest.TestCase):
    def test_dataloader_with_two_workers_yields_per_scale_tensors(self):
        from torch.utils.data import DataLoader

        from camelyon_patches import PatchDataset

        ds = PatchDataset(SERVICE_URL, REQUEST, float_images=False)
        batches = list(DataLoader(ds, batch_size=4, num_workers=2, timeout=60))
        expected = {d["index"]: d for d in CLIENT.samples(**REQUEST)["items"]}
        seen = []
        for images, masks, d in batches:
            n = len(d["index"])
            self.assertEqual([tuple(t.shape) for t in images], [(n, 3, 64, 64), (n, 3, 48, 48), (n, 3, 32, 32)])
            self.assertEqual([tuple(t.shape) for t in masks], [(n, 64, 64), (n, 48, 48), (n, 32, 32)])
            self.assertTrue(all(t.dtype == torch.uint8 for t in images + masks))
            for j in range(n):
                e = expected[int(d["index"][j])]
                seen.append(e["index"])
                for k, scale in enumerate(SCALES):
                    # the collated scale k of sample j is that scale's rectangle, centred like the others
                    self.assertEqual((int(d["scales"][k]["x"][j]), int(d["scales"][k]["y"][j])), (e["scales"][k]["x"], e["scales"][k]["y"]))
                    ref = region_of(e, scale, k)
                    np.testing.assert_array_equal(images[k][j].permute(1, 2, 0).numpy(), ref)
                    np.testing.assert_array_equal(masks[k][j].numpy(), region_of(e, scale, k, "mask"))
        self.assertEqual(sorted(seen), list(range(8)))

    def test_float_images_per_scale(self):
        from camelyon_patches import PatchDataset

        samples = iter(PatchDataset(SERVICE_URL, {**REQUEST, "count": 1}))
        images, masks, d = next(samples)
        samples.close()
        self.assertEqual([t.dtype for t in images], [torch.float32] * 3)
        self.assertTrue(all(0.0 <= float(t.min()) and float(t.max()) <= 1.0 for t in images))
        # every scale's fractions name every class, so descriptors collate
        names = {c["name"] for c in CLIENT.classes()["items"]}
        for sc in d["scales"]:
            self.assertEqual(set(sc["fractions"]), names)

"""The client against a running service (SERVICE_URL, e.g. http://127.0.0.1:8080).

test/clients/python.test.ts starts the service on a small dataset and runs these; they choose
their classes from GET /classes, so any dataset with labelled slides will do.
"""
import os
import unittest

import numpy as np

from camelyon_patches import PatchClient, ServiceError, class_index, iterate_patches, near

SERVICE_URL = os.environ.get("SERVICE_URL")
#: The service's MAX_BATCH_SAMPLES, when the caller knows it (test/clients/python.test.ts sets it).
MAX_BATCH = int(os.environ.get("SERVICE_MAX_BATCH") or 0)

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False

CLIENT = None
BASE = None
NAMES = None


def setUpModule():
    global CLIENT, BASE, NAMES
    if not SERVICE_URL:
        raise unittest.SkipTest("SERVICE_URL is not set: these tests need a running service")
    CLIENT = PatchClient(SERVICE_URL, timeout=(5, 60))
    items = CLIENT.classes()["items"]
    NAMES = {c["value"]: c["name"] for c in items}
    labelled = sorted((c for c in items if c["value"] != 0 and c["areaPx"] > 0), key=lambda c: -c["areaPx"])
    if not labelled:
        raise unittest.SkipTest("the service's dataset has no labelled class")
    # Level 0 and a size that is a multiple of the label grid: the mask is then at the patch's
    # own resolution and covers whole label pixels, so fractions can be checked exactly.
    BASE = {"classes": [c["name"] for c in labelled[:3]], "minFraction": 0.5, "size": 64, "level": 0, "count": 24, "seed": 11}


def tearDownModule():
    if CLIENT is not None:
        CLIENT.close()


def positions(items):
    return [(d["index"], d["slideId"], d["x"], d["y"]) for d in items]


def mask_fractions(mask):
    counts = np.bincount(mask.ravel(), minlength=256)
    return {NAMES[v]: counts[v] / mask.size for v in np.flatnonzero(counts)}


class SamplesTest(unittest.TestCase):
    def test_same_seed_same_samples_other_seed_or_epoch_others(self):
        a = CLIENT.samples(**BASE)
        self.assertEqual(CLIENT.samples(**BASE), a)
        self.assertEqual(len(a["items"]), BASE["count"])
        self.assertEqual([d["index"] for d in a["items"]], list(range(BASE["count"])))
        self.assertNotEqual(positions(CLIENT.samples(**{**BASE, "seed": BASE["seed"] + 1})["items"]), positions(a["items"]))
        self.assertNotEqual(positions(CLIENT.samples(**{**BASE, "epoch": 1})["items"]), positions(a["items"]))

    def test_shards_are_disjoint_and_together_the_epoch(self):
        whole = {d["index"]: d for d in CLIENT.samples(**BASE)["items"]}
        seen = []
        for shard in range(5):
            part = CLIENT.samples(**{**BASE, "shard": shard, "shards": 5})
            self.assertEqual((part["shard"], part["shards"]), (shard, 5))
            for d in part["items"]:
                self.assertEqual(d["index"] % 5, shard)
                self.assertEqual(d, whole[d["index"]])
            seen += [d["index"] for d in part["items"]]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(sorted(seen), list(range(BASE["count"])))

    def test_unknown_class_is_a_service_error(self):
        with self.assertRaises(ServiceError) as e:
            CLIENT.samples(**{**BASE, "classes": ["no-such-class"]})
        self.assertEqual((e.exception.status, e.exception.code), (400, "UNKNOWN_CLASS"))
        self.assertIn("no-such-class", e.exception.detail)
        # A batch sends its request when asked for, not at the first sample.
        with self.assertRaises(ServiceError) as e:
            CLIENT.batch(**{**BASE, "classes": ["no-such-class"]})
        self.assertEqual(e.exception.code, "UNKNOWN_CLASS")

    def test_unknown_slide_is_a_service_error(self):
        with self.assertRaises(ServiceError) as e:
            CLIENT.region("no-such-slide", 0, 0, 8, 8)
        self.assertEqual((e.exception.status, e.exception.code), (404, "SLIDE_NOT_FOUND"))


class NearTest(unittest.TestCase):
    """region.near through samples() and batch(): every centre in the band, the distance reported."""

    @classmethod
    def setUpClass(cls):
        if "metastasis" not in NAMES.values():
            raise unittest.SkipTest("the service's taxonomy has no metastasis class")
        others = [n for n in BASE["classes"] if n != "metastasis"] or BASE["classes"]
        cls.request = {**BASE, "classes": others, "minFraction": 0.3, "size": 32, "count": 16,
                       "region": {"near": near(["metastasis"], 150, 10)}}

    def test_samples_lie_in_the_band(self):
        items = CLIENT.samples(**self.request)["items"]
        self.assertEqual(len(items), 16)
        for d in items:
            self.assertGreaterEqual(d["distanceUm"], 10, d)
            self.assertLessEqual(d["distanceUm"], 150, d)
            self.assertGreater(d["distanceErrorUm"], 0, d)
        self.assertEqual(CLIENT.samples(**self.request)["items"], items)

    def test_batch_descriptors_carry_the_distance(self):
        samples = list(CLIENT.batch(**{**self.request, "count": 4}))
        self.assertEqual(len(samples), 4)
        for s in samples:
            self.assertTrue(10 <= s.descriptor["distanceUm"] <= 150, s.descriptor)

    def test_near_checks_the_band_before_sending(self):
        self.assertEqual(near(["metastasis"], 500), {"classes": ["metastasis"], "withinUm": 500.0, "outsideUm": 0.0})
        for args in ((["metastasis"], 10, 20), (["metastasis"], -1), (["metastasis"], float("inf")), ([], 10)):
            with self.assertRaises(ValueError):
                near(*args)

    def test_a_band_sent_by_hand_is_checked_by_the_service(self):
        bad = {"near": {"classes": ["metastasis"], "withinUm": 10, "outsideUm": 20}}
        with self.assertRaises(ServiceError) as e:
            CLIENT.samples(**{**self.request, "region": bad})
        self.assertEqual((e.exception.status, e.exception.code), (400, "VALIDATION_FAILED"))
        self.assertIn("region.near.withinUm", e.exception.detail)


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.request = {**BASE, "count": 12}
        cls.items = CLIENT.samples(**cls.request)["items"]
        cls.jpeg = list(CLIENT.batch(**cls.request))
        cls.png = list(CLIENT.batch(**cls.request, format="png"))

    def test_samples_in_order_with_their_descriptors(self):
        self.assertEqual([s.index for s in self.jpeg], list(range(12)))
        self.assertEqual([s.descriptor for s in self.jpeg], self.items)
        for s in self.jpeg + self.png:
            self.assertEqual((s.image.shape, s.image.dtype), ((64, 64, 3), np.uint8))
            self.assertEqual((s.mask.shape, s.mask.dtype), ((64, 64), np.uint8))
            self.assertTrue(s.image.flags.writeable)

    def test_mask_fractions_equal_the_descriptor_exactly(self):
        for s in self.jpeg:
            self.assertEqual(mask_fractions(s.mask), s.descriptor["fractions"], s.descriptor)
            self.assertGreaterEqual(s.descriptor["fractions"][s.descriptor["class"]], BASE["minFraction"])

    def test_masks_equal_the_region_npy_exactly(self):
        for s in self.jpeg:
            d = s.descriptor
            m = CLIENT.region(d["slideId"], d["x"], d["y"], d["width"], d["height"], level=0, layer="mask")
            self.assertEqual((m.shape, m.dtype), ((64, 64), np.uint8))
            np.testing.assert_array_equal(m, s.mask)

    def test_images_equal_the_region_npy(self):
        for png, jpeg in zip(self.png, self.jpeg):
            d = png.descriptor
            ref = CLIENT.region(d["slideId"], d["x"], d["y"], d["width"], d["height"], level=0)
            self.assertEqual((ref.shape, ref.dtype), ((64, 64, 3), np.uint8))
            np.testing.assert_array_equal(png.image, ref)  # lossless: the same pixels
            np.testing.assert_array_equal(png.mask, jpeg.mask)
            diff = np.abs(jpeg.image.astype(np.int16) - ref.astype(np.int16))
            self.assertLess(diff.mean(), 4.0, f"JPEG (quality 90) too far from the pixels for {d}")

    def test_sharded_batches_are_the_epoch(self):
        parts = [list(CLIENT.batch(**self.request, shard=k, shards=3)) for k in range(3)]
        indices = sorted(s.index for p in parts for s in p)
        self.assertEqual(indices, list(range(12)))
        by_index = {s.index: s for p in parts for s in p}
        for s in self.jpeg:
            np.testing.assert_array_equal(by_index[s.index].mask, s.mask)
            self.assertEqual(by_index[s.index].descriptor, s.descriptor)

    def test_a_client_hanging_up_mid_batch_leaves_the_service_serving(self):
        # What a DataLoader does when training stops mid-epoch, or on Ctrl-C. Large lossless
        # patches, so the service is still rendering and writing when we go.
        it = CLIENT.batch(**{**BASE, "size": 512, "format": "png", "minFraction": 0, "count": 16})
        self.assertEqual(next(it).index, 0)
        it.close()
        with PatchClient(SERVICE_URL, timeout=(5, 60), retries=0) as fresh:
            self.assertEqual(len(list(fresh.batch(**{**self.request, "count": 2}))), 2)

    def test_lossless_npy_and_raw_batches_are_the_region_pixels(self):
        for fmt in ("npy", "raw"):
            got = list(CLIENT.batch(**{**self.request, "count": 4}, format=fmt))
            self.assertEqual([s.index for s in got], [0, 1, 2, 3])
            for s in got:
                d = s.descriptor
                self.assertEqual((s.image.shape, s.image.dtype, s.mask.shape), ((64, 64, 3), np.uint8, (64, 64)))
                self.assertTrue(s.image.flags.writeable and s.mask.flags.writeable)
                ref = CLIENT.region(d["slideId"], d["x"], d["y"], d["width"], d["height"], level=0)
                np.testing.assert_array_equal(s.image, ref)
                mask = CLIENT.region(d["slideId"], d["x"], d["y"], d["width"], d["height"], level=0, layer="mask")
                np.testing.assert_array_equal(s.mask, mask)

    def test_class_index_is_the_position_in_the_request(self):
        names = BASE["classes"]
        for s in self.jpeg:
            self.assertEqual(class_index(s.descriptor), names.index(s.descriptor["class"]))
            self.assertEqual(s.class_index, names.index(s.descriptor["class"]))
        reversed_items = CLIENT.samples(**{**self.request, "classes": names[::-1]})["items"]
        for d in reversed_items:
            self.assertEqual(class_index(d), names[::-1].index(d["class"]))

    def test_iterate_patches_goes_epoch_after_epoch(self):
        request = {**BASE, "count": 5}
        got = list(iterate_patches(CLIENT, request, epochs=2))
        self.assertEqual([s.index for s in got], [0, 1, 2, 3, 4] * 2)
        for epoch, chunk in enumerate((got[:5], got[5:])):
            expected = CLIENT.samples(**{**request, "epoch": epoch})["items"]
            self.assertEqual([s.descriptor for s in chunk], expected)
        self.assertNotEqual(positions(s.descriptor for s in got[:5]), positions(s.descriptor for s in got[5:]))
        # A base URL is enough, and the request's epoch is the first one.
        again = list(iterate_patches(SERVICE_URL, {**request, "epoch": 1}, epochs=1))
        self.assertEqual([s.descriptor for s in again], [s.descriptor for s in got[5:]])


@unittest.skipUnless(MAX_BATCH, "SERVICE_MAX_BATCH is not set: splitting of large shards not tested")
class LargeShardTest(unittest.TestCase):
    def test_stream_splits_a_shard_larger_than_a_batch(self):
        request = {**BASE, "count": 2 * MAX_BATCH + 3}
        with self.assertRaises(ServiceError) as e:
            CLIENT.batch(**request)
        self.assertEqual((e.exception.status, e.exception.code), (413, "BATCH_TOO_LARGE"))
        got = list(CLIENT.stream(**request))
        self.assertEqual(sorted(s.index for s in got), list(range(request["count"])))
        expected = {d["index"]: d for d in CLIENT.samples(**request)["items"]}
        for s in got:
            self.assertEqual(s.descriptor, expected[s.index])
        # a shard of a sharded request is split the same way
        part = list(CLIENT.stream(**{**request, "count": 4 * MAX_BATCH, "shard": 1, "shards": 2}))
        self.assertEqual(sorted(s.index for s in part), list(range(1, 4 * MAX_BATCH, 2)))

    def test_iterate_patches_splits_too(self):
        got = list(iterate_patches(CLIENT, {**BASE, "count": MAX_BATCH + 1}, epochs=1))
        self.assertEqual(sorted(s.index for s in got), list(range(MAX_BATCH + 1)))


@unittest.skipUnless(HAVE_TORCH, "torch is not installed (apt-get install python3-torch): PatchDataset not tested")
class TorchTest(unittest.TestCase):
    def load(self, dataset, **kwargs):
        from torch.utils.data import DataLoader

        return list(DataLoader(dataset, batch_size=4, num_workers=2, timeout=60, **kwargs))

    def indices(self, batches):
        return [int(i) for _, _, d in batches for i in d["index"]]

    def test_dataloader_with_two_workers_yields_the_epoch_exactly_once(self):
        from camelyon_patches import PatchDataset

        request = {**BASE, "count": 20}
        batches = self.load(PatchDataset(SERVICE_URL, request))
        indices = self.indices(batches)
        self.assertEqual(len(indices), 20)
        self.assertEqual(sorted(indices), list(range(20)))
        expected = {d["index"]: d for d in CLIENT.samples(**request)["items"]}
        for image, mask, d in batches:
            n = image.shape[0]
            self.assertEqual((tuple(image.shape), image.dtype), ((n, 3, 64, 64), torch.float32))
            self.assertEqual((tuple(mask.shape), mask.dtype), ((n, 64, 64), torch.uint8))
            self.assertTrue(0.0 <= float(image.min()) and float(image.max()) <= 1.0)
            for k in range(n):
                e = expected[int(d["index"][k])]
                self.assertEqual((d["slideId"][k], int(d["x"][k]), int(d["y"][k])), (e["slideId"], e["x"], e["y"]))
                # fractions name every class, so the default collate batches them
                frac = {name: float(d["fractions"][name][k]) for name in NAMES.values()}
                self.assertEqual({n_: f for n_, f in frac.items() if f > 0}, e["fractions"])
                self.assertEqual(mask_fractions(mask[k].numpy()), e["fractions"])
        # Worker w streams shard w of 2: each batch comes from one worker.
        for _, _, d in batches:
            self.assertEqual(len({int(i) % 2 for i in d["index"]}), 1)

    def test_set_epoch_gives_the_next_permutation(self):
        from camelyon_patches import PatchDataset

        request = {**BASE, "count": 8}
        ds = PatchDataset(SERVICE_URL, request, float_images=False)
        first = self.load(ds)
        ds.set_epoch(1)
        second = self.load(ds)
        self.assertEqual(first[0][0].dtype, torch.uint8)

        def where(batches):
            return sorted((int(i), s, int(x), int(y)) for _, _, d in batches for i, s, x, y in zip(d["index"], d["slideId"], d["x"], d["y"]))

        self.assertEqual(sorted(self.indices(second)), list(range(8)))
        self.assertEqual(where(first), sorted(positions(CLIENT.samples(**request)["items"])))
        self.assertEqual(where(second), sorted(positions(CLIENT.samples(**{**request, "epoch": 1})["items"])))

    def test_set_epoch_reaches_persistent_workers(self):
        from torch.utils.data import DataLoader

        from camelyon_patches import PatchDataset

        request = {**BASE, "count": 8}
        ds = PatchDataset(SERVICE_URL, request, float_images=False)
        loader = DataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True, timeout=60)
        seen = []
        for epoch in range(2):
            ds.set_epoch(epoch)
            batches = list(loader)
            seen.append(sorted((int(i), s, int(x), int(y)) for _, _, d in batches for i, s, x, y in zip(d["index"], d["slideId"], d["x"], d["y"])))
            self.assertEqual(seen[-1], sorted(positions(CLIENT.samples(**{**request, "epoch": epoch})["items"])))
        self.assertNotEqual(seen[0], seen[1])

    def test_class_index_collates_to_a_target_tensor(self):
        from camelyon_patches import PatchDataset

        batches = self.load(PatchDataset(SERVICE_URL, {**BASE, "count": 8}, float_images=False))
        for _, _, d in batches:
            targets = class_index(d)
            self.assertEqual(targets.dtype, torch.int64)
            self.assertEqual(targets.tolist(), [BASE["classes"].index(c) for c in d["class"]])

    def test_ranks_split_the_epoch_between_them(self):
        from camelyon_patches import PatchDataset

        request = {**BASE, "count": 16}
        per_rank = [self.indices(self.load(PatchDataset(SERVICE_URL, request, rank=r, world_size=2))) for r in (0, 1)]
        # shard = rank * 2 + worker of shards = 4: rank 1 holds the indices 2 and 3 modulo 4
        self.assertEqual(sorted(per_rank[1]), [i for i in range(16) if i % 4 in (2, 3)])
        self.assertEqual(sorted(per_rank[0] + per_rank[1]), list(range(16)))

    @unittest.skipUnless(MAX_BATCH, "SERVICE_MAX_BATCH is not set")
    def test_workers_split_shards_larger_than_a_batch(self):
        from camelyon_patches import PatchDataset

        count = 2 * MAX_BATCH + 6  # more than a batch per worker
        indices = self.indices(self.load(PatchDataset(SERVICE_URL, {**BASE, "count": count}, float_images=False)))
        self.assertEqual(sorted(indices), list(range(count)))

    def test_the_dataset_sets_shards_itself(self):
        from camelyon_patches import PatchDataset

        with self.assertRaises(ValueError):
            PatchDataset(SERVICE_URL, {**BASE, "shards": 2})
        with self.assertRaises(ValueError):
            PatchDataset(SERVICE_URL, BASE, rank=2, world_size=2)


if __name__ == "__main__":
    unittest.main()

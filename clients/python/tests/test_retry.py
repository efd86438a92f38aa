"""Retries, error answers and broken batch streams, against a scripted local HTTP server (no
service needed): what a real service only does under load or failure."""
import io
import json
import socket
import tarfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import requests
from PIL import Image

from camelyon_patches import BatchStreamError, PatchClient, ServiceError
from camelyon_patches.client import retry_after_seconds


def png(array):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


SIDE = 96


def sample_members(index, *, mask=True, descriptor=True):
    """A sample of ~30 KB (noise does not compress), several of tarfile's 10 KB reads."""
    key = f"{index:06d}"
    image = np.random.default_rng(index).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    image[0, 0] = index * 10
    members = [(f"{key}.png", png(image))]
    if mask:
        members.append((f"{key}.mask.png", png(np.full((SIDE, SIDE), index % 9, dtype=np.uint8))))
    if descriptor:
        members.append((f"{key}.json", json.dumps({"index": index, "slideId": "s", "fractions": {}}).encode()))
    return members


def tar_bytes(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def batch_tar(indices):
    return tar_bytes([m for i in indices for m in sample_members(i)])


def inside(data, k):
    """A byte offset in the middle of the k-th sample of a batch tar."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        starts = [m.offset for m in tar.getmembers() if m.name.endswith(".json")]
    begin = 0 if k == 0 else starts[k - 1] + 1024
    return (begin + starts[k]) // 2


class Script:
    """Answers the n-th request with the n-th action (the last one repeats)."""

    def __init__(self, actions):
        self.actions = list(actions)
        self.hits = []

    def next(self, handler):
        self.hits.append((handler.command, handler.path, handler.body))
        action = self.actions[min(len(self.hits), len(self.actions)) - 1]
        action(handler)


def answer(status, body=b"", content_type="application/problem+json", headers=None):
    def act(h):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    return act


def problem(status, code, detail, headers=None):
    return answer(status, {"type": "about:blank", "title": "x", "status": status, "code": code, "detail": detail}, headers=headers)


def tar_stream(data, *, cut_at=None, version="v1"):
    """A chunked tar answer; with cut_at, the connection is dropped after that many bytes."""

    def act(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/x-tar")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("X-Dataset-Version", version)
        h.end_headers()
        body = data if cut_at is None else data[:cut_at]
        for i in range(0, len(body), 1000):
            chunk = body[i : i + 1000]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if cut_at is None:
            h.wfile.write(b"0\r\n\r\n")
        else:
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)

    return act


class StubServer:
    def __init__(self, script):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                script.next(self)

            do_GET = do_POST = handle_any

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that hangs up mid-answer is what some tests do

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class StubTestCase(unittest.TestCase):
    def serve(self, *actions, retries=3, **client_args):
        self.script = Script(actions)
        stub = StubServer(self.script)
        self.addCleanup(stub.close)
        client = PatchClient(stub.url, timeout=(2, 5), retries=retries, **client_args)
        self.addCleanup(client.close)
        self.sleeps = []
        client._sleep = self.sleeps.append
        return client


BODY = {"classes": ["metastasis"], "count": 3}


class RetryTest(StubTestCase):
    def test_503_is_retried_after_the_retry_after_it_asks(self):
        client = self.serve(problem(503, "BUSY", "busy", {"Retry-After": "3"}), answer(200, {"items": []}, "application/json"))
        self.assertEqual(client.samples(**BODY), {"items": []})
        self.assertEqual(len(self.script.hits), 2)
        self.assertEqual(self.sleeps, [3.0])

    def test_503_without_retry_after_backs_off_exponentially(self):
        client = self.serve(problem(503, "TIMEOUT", "slow"), problem(503, "TIMEOUT", "slow"), answer(200, {"ok": 1}, "application/json"), backoff=0.5)
        self.assertEqual(client.samples(**BODY), {"ok": 1})
        self.assertEqual(len(self.sleeps), 2)
        self.assertTrue(0.25 <= self.sleeps[0] <= 0.5 and 0.5 <= self.sleeps[1] <= 1.0, self.sleeps)

    def test_waits_are_capped(self):
        client = self.serve(problem(503, "BUSY", "busy", {"Retry-After": "3600"}), answer(200, {}, "application/json"), max_wait=7)
        client.samples(**BODY)
        self.assertEqual(self.sleeps, [7])

    def test_retries_are_bounded(self):
        client = self.serve(problem(503, "BUSY", "busy", {"Retry-After": "1"}), retries=2)
        with self.assertRaises(ServiceError) as e:
            client.samples(**BODY)
        self.assertEqual((e.exception.status, e.exception.code), (503, "BUSY"))
        self.assertEqual(len(self.script.hits), 3)
        self.assertEqual(self.sleeps, [1.0, 1.0])

    def test_4xx_is_never_retried(self):
        for status, code in ((400, "VALIDATION_FAILED"), (404, "SLIDE_NOT_FOUND"), (422, "CLASS_NOT_PRESENT"), (429, "TOO_MANY")):
            client = self.serve(problem(status, code, "no", {"Retry-After": "1"}))
            with self.assertRaises(ServiceError) as e:
                client.samples(**BODY)
            self.assertEqual((e.exception.status, e.exception.code, e.exception.detail), (status, code, "no"))
            self.assertEqual(e.exception.problem["status"], status)
            self.assertEqual(len(self.script.hits), 1)
            self.assertEqual(self.sleeps, [])

    def test_an_answer_that_is_not_a_problem_still_raises_service_error(self):
        client = self.serve(answer(502, b"<html>bad gateway</html>", "text/html"))
        with self.assertRaises(ServiceError) as e:
            client.region("s", 0, 0, 4, 4)
        self.assertEqual((e.exception.status, e.exception.code), (502, "HTTP_502"))
        self.assertIn("bad gateway", e.exception.detail)
        self.assertEqual(len(self.script.hits), 1)

    def test_connection_errors_are_retried_then_raised(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = PatchClient(f"http://127.0.0.1:{port}", timeout=(2, 5), retries=2)
        sleeps = []
        client._sleep = sleeps.append
        with self.assertRaises(requests.ConnectionError):
            client.samples(**BODY)
        self.assertEqual(len(sleeps), 2)

    def test_service_error_survives_pickling(self):
        import pickle

        e = pickle.loads(pickle.dumps(ServiceError(400, "UNKNOWN_CLASS", "nope", {"code": "UNKNOWN_CLASS"})))
        self.assertEqual((e.status, e.code, e.detail, e.problem), (400, "UNKNOWN_CLASS", "nope", {"code": "UNKNOWN_CLASS"}))

    def test_retry_after_forms(self):
        from datetime import datetime, timezone

        now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
        self.assertEqual(retry_after_seconds("5"), 5.0)
        self.assertEqual(retry_after_seconds("Wed, 01 Jan 2025 12:00:10 GMT", now), 10.0)
        self.assertEqual(retry_after_seconds("Wed, 01 Jan 2025 11:00:00 GMT", now), 0.0)
        self.assertIsNone(retry_after_seconds("soon"))
        self.assertIsNone(retry_after_seconds(None))


class BatchStreamTest(StubTestCase):
    def test_a_whole_stream(self):
        client = self.serve(tar_stream(batch_tar([0, 1, 2])))
        got = list(client.batch(**BODY))
        self.assertEqual([s.index for s in got], [0, 1, 2])
        self.assertEqual(got[2].image.shape, (SIDE, SIDE, 3))
        self.assertEqual(int(got[2].image[0, 0, 0]), 20)
        np.testing.assert_array_equal(got[2].mask, np.full((SIDE, SIDE), 2, dtype=np.uint8))
        self.assertEqual(self.script.hits[0][:2], ("POST", "/batches"))
        self.assertEqual(json.loads(self.script.hits[0][2]), BODY)

    def test_a_broken_stream_resumes_without_repeating_samples(self):
        data = batch_tar([0, 1, 2])
        # cut inside the second sample, then inside the third, then whole
        client = self.serve(tar_stream(data, cut_at=inside(data, 1)), tar_stream(data, cut_at=inside(data, 2)), tar_stream(data))
        self.assertEqual([s.index for s in client.batch(**BODY)], [0, 1, 2])
        self.assertEqual(len(self.script.hits), 3)
        self.assertEqual(len(self.sleeps), 2)

    def test_a_503_before_the_stream_is_retried(self):
        client = self.serve(problem(503, "BUSY", "busy", {"Retry-After": "1"}), tar_stream(batch_tar([0, 1, 2])))
        self.assertEqual([s.index for s in client.batch(**BODY)], [0, 1, 2])
        self.assertEqual(self.sleeps, [1.0])

    def test_a_stream_that_keeps_breaking_gives_up(self):
        data = batch_tar([0, 1, 2])
        client = self.serve(tar_stream(data, cut_at=inside(data, 1)), retries=2)
        it = client.batch(**BODY)
        self.assertEqual(next(it).index, 0)
        with self.assertRaises(BatchStreamError):
            list(it)
        self.assertEqual(len(self.script.hits), 3)

    def test_a_stream_that_ends_short_of_the_count_is_broken(self):
        client = self.serve(tar_stream(batch_tar([0, 1])), retries=1)
        with self.assertRaises(BatchStreamError) as e:
            list(client.batch(**BODY))
        self.assertIn("2 samples", str(e.exception))
        self.assertEqual(len(self.script.hits), 2)
        # Without a count, the client cannot know: the stream is what it is.
        client = self.serve(tar_stream(batch_tar([0, 1])))
        self.assertEqual(len(list(client.batch(classes=["metastasis"]))), 2)

    def test_no_resume_across_dataset_versions(self):
        data = batch_tar([0, 1, 2])
        client = self.serve(tar_stream(data, cut_at=inside(data, 1), version="v1"), tar_stream(data, version="v2"))
        with self.assertRaises(BatchStreamError) as e:
            list(client.batch(**BODY))
        self.assertIn("dataset changed", str(e.exception))

    def test_a_sample_missing_a_member_is_malformed(self):
        client = self.serve(tar_stream(tar_bytes(sample_members(0, mask=False) + sample_members(1))))
        with self.assertRaises(BatchStreamError) as e:
            list(client.batch(**BODY))
        self.assertIn("incomplete", str(e.exception))
        self.assertEqual(len(self.script.hits), 1)

    def test_shard_sizes(self):
        from camelyon_patches.client import _shard_size

        self.assertEqual(_shard_size({"count": 10, "shard": 3, "shards": 4}), 2)  # 3, 7
        self.assertEqual(_shard_size({"count": 10, "shard": 0, "shards": 4}), 3)  # 0, 4, 8
        self.assertEqual(_shard_size({"count": 2, "shard": 3, "shards": 4}), 0)
        self.assertIsNone(_shard_size({"classes": ["x"]}))


if __name__ == "__main__":
    unittest.main()

"""HTTP client of the patch service: POST /samples, POST /batches (a WebDataset tar, streamed)
and GET /slides/{id}/region (NumPy arrays).

Every request goes through one bounded retry loop: connection errors and 503 answers (the
service's BUSY and TIMEOUT, which carry Retry-After) are retried with exponential backoff; any
other error answer, 4xx above all, raises ServiceError at once. A batch stream that breaks
half-way is requested again and the samples already delivered are skipped, which is sound
because a batch is a pure function of its request (seed, epoch, shard) and the dataset version.
"""
from __future__ import annotations

import email.utils
import io
import json
import math
import random
import tarfile
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import quote

import numpy as np
import requests
import urllib3
from PIL import Image

__all__ = [
    "BatchStreamError",
    "DEFAULT_TIMEOUT",
    "MultiScaleSample",
    "PatchClient",
    "Sample",
    "ServiceError",
    "class_index",
    "decode_image",
    "decode_mask",
    "near",
    "read_shard",
]

Timeout = Union[float, Tuple[float, float]]

#: (connect, read) seconds. The read timeout bounds the wait for each chunk of a stream, not
#: the whole stream: a batch of thousands of patches may stream for minutes.
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 120.0)
#: Only "try again later" answers are retried; 4xx never are (the request itself is wrong).
RETRY_STATUSES = frozenset({503})
#: Image members of a batch sample, by the request's `format`.
IMAGE_EXTENSIONS = ("jpg", "png", "webp", "npy", "raw")
#: Mask members: PNG beside encoded images, arrays beside arrays (format npy or raw).
MASK_EXTENSIONS = ("mask.png", "mask.npy", "mask.raw")
#: Most shards a request may name (the SampleRequest schema).
MAX_SHARDS = 100_000

_USER_AGENT = "camelyon-patches/0.1 python-requests/" + requests.__version__


class ServiceError(Exception):
    """An error answer of the service: RFC 9457 problem+json with a stable `code`, or, for an
    answer that is not a problem document (a proxy's 502 page, say), code ``HTTP_<status>``."""

    def __init__(self, status: int, code: str, detail: str, problem: Optional[Dict[str, Any]] = None):
        super().__init__(f"HTTP {status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.problem = problem if problem is not None else {}

    def __reduce__(self):  # picklable, so it crosses process boundaries intact
        return (type(self), (self.status, self.code, self.detail, self.problem))


class BatchStreamError(Exception):
    """A batch stream that is malformed, or broke and could not be resumed (retries used up, or
    the dataset version changed between the attempts)."""


class _EndedEarly(BatchStreamError):
    """The stream ended cleanly but short of the samples the request asked for (resumable)."""


class Sample(NamedTuple):
    """One sample of a batch. `image`: H x W x 3 uint8 (RGB); `mask`: H x W uint8 label values
    (class values of the taxonomy, 0 = unlabelled), pixel for pixel under the image;
    `descriptor`: the sample's JSON descriptor, as POST /samples returns it."""

    image: np.ndarray
    mask: np.ndarray
    descriptor: Dict[str, Any]

    @property
    def index(self) -> int:
        """Position of the sample in its epoch."""
        return int(self.descriptor["index"])

    @property
    def class_index(self) -> int:
        """The sample's model target: see class_index()."""
        return class_index(self.descriptor)


class MultiScaleSample(NamedTuple):
    """One sample of a request with `scales`: `images[k]` (H_k x W_k x 3 uint8) and `masks[k]`
    (H_k x W_k uint8 label values) are scale k, in the order the request asked, all centred on the
    same level-0 point; `descriptor` carries `scales` (each scale's x, y, sizeL0, level, mpp, ...)."""

    images: List[np.ndarray]
    masks: List[np.ndarray]
    descriptor: Dict[str, Any]

    @property
    def index(self) -> int:
        """Position of the sample in its epoch."""
        return int(self.descriptor["index"])

    @property
    def class_index(self) -> int:
        """The sample's model target (drawn on the first scale): see class_index()."""
        return class_index(self.descriptor)


#: What a batch yields: a Sample, or a MultiScaleSample for a request with `scales`.
AnySample = Union[Sample, MultiScaleSample]


def class_index(descriptor: Dict[str, Any]) -> Any:
    """The model index of a descriptor's class: the position, in the request's `classes`, of the
    entry that selected it (a category's classes share its index), not the taxonomy value
    `classValue` (1, 2, 3, ...). Works on one descriptor (an int) and on a batch of descriptors
    collated by a DataLoader (the collated tensor, ready for cross_entropy)."""
    value = descriptor["classIndex"]
    return int(value) if isinstance(value, (int, float, str)) else value


def near(classes: List[Union[str, int]], within_um: float, outside_um: float = 0.0) -> Dict[str, Any]:
    """A ``region.near`` part of a sample request: patch centres at least ``outside_um`` and at
    most ``within_um`` micrometres from the nearest pixel of ``classes`` (names, values or
    categories). ``near(["metastasis"], 500, 1)`` is the 0.5 mm ring around a metastasis, outside it::

        client.samples(classes=["lymph-node-parenchyma"], region={"near": near(["metastasis"], 500, 1)})

    It combines with the other region parts (``rect``, ``polygon``, ``within``) and ``exclude``.
    Each descriptor then carries ``distanceUm`` (from the patch centre, as the service's distance
    raster sees it) and ``distanceErrorUm`` (its bound: one cell diagonal of that raster).
    Raises ValueError here for what the service would refuse with a 400."""
    classes = list(classes)
    if not classes:
        raise ValueError("near: classes must name at least one class")
    for name, v in (("within_um", within_um), ("outside_um", outside_um)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"near: {name} must be a finite number >= 0, not {v!r}")
    if within_um < outside_um:
        raise ValueError(f"near: within_um ({within_um}) must be at least outside_um ({outside_um})")
    return {"classes": classes, "withinUm": float(within_um), "outsideUm": float(outside_um)}


# A broken stream surfaces from urllib3 (resp.raw is read directly), from requests, or from
# tarfile ("unexpected end of data") depending on where it broke.
_STREAM_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, tarfile.ReadError, ConnectionError, _EndedEarly)


class PatchClient:
    """Client of one service.

    base_url: e.g. ``http://localhost:8080``. timeout: seconds, or (connect, read).
    session: a ``requests.Session`` to use (default: a new one, owned and closed by the client).
    retries: attempts after the first, per request, for connection errors and 503; and for a
    batch stream, resumes after it broke. backoff: first delay in seconds, doubled per attempt,
    with jitter. max_wait: cap on any single wait, Retry-After included. api_key: sent as
    ``Authorization: Bearer <key>`` when the service requires keys.

    A session must not be shared across processes: create one client per process (PatchDataset
    does this per DataLoader worker).
    """

    def __init__(
        self,
        base_url: str,
        timeout: Timeout = DEFAULT_TIMEOUT,
        session: Optional[requests.Session] = None,
        *,
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        api_key: Optional[str] = None,
    ):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        self._headers = {"User-Agent": _USER_AGENT}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> "PatchClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PatchClient({self.base_url!r})"

    # -- endpoints -------------------------------------------------------------------------

    def samples(self, **request: Any) -> Dict[str, Any]:
        """POST /samples: the descriptors of one shard of an epoch. Keyword arguments are the
        JSON body (classes, weights, balance, minFraction, criterion, slides, region, exclude,
        size, level or mpp, count, seed, epoch, shard, shards, format). ``region`` may hold
        ``near`` (see near()): sampling by distance to a class, with ``distanceUm`` per item.

        To train, stream the pixels with batch()/stream() (or PatchDataset): fetching each
        descriptor's region() one request at a time is about 3x slower. A patch depends on the
        whole request, `count` included: the first 200 of a count of 400 are not those of 200."""
        return self._request("POST", "/samples", json=request).json()

    def classes(self) -> Dict[str, Any]:
        """GET /classes: the taxonomy (``items``, value 0 first) with labelled areas."""
        return self._request("GET", "/classes").json()

    def region(
        self,
        slide_id: str,
        x: int,
        y: int,
        width: int,
        height: int,
        level: Optional[int] = None,
        mpp: Optional[float] = None,
        layer: str = "image",
    ) -> np.ndarray:
        """GET /slides/{id}/region as NumPy: (height, width, 3) uint8 for layer='image',
        (height, width) uint8 label values for layer='mask'. x, y: top-left in level-0 pixels;
        width, height: output pixels at `level` (default 0) or at `mpp`. The rectangle may reach
        over any edge (negative x/y included): pixels off the slide are white, labels 0. One call
        per patch: for training, batch() streams many patches about 3x faster."""
        if level is not None and mpp is not None:
            raise ValueError("give level or mpp, not both")
        if layer not in ("image", "mask"):
            raise ValueError("layer is 'image' or 'mask'")
        params: Dict[str, Any] = {"x": int(x), "y": int(y), "width": int(width), "height": int(height), "layer": layer, "format": "npy"}
        if level is not None:
            params["level"] = int(level)
        if mpp is not None:
            params["mpp"] = mpp
        resp = self._request("GET", f"/slides/{quote(slide_id, safe='')}/region", params=params)
        return np.load(io.BytesIO(resp.content), allow_pickle=False)

    def batch(self, **request: Any) -> Iterator[AnySample]:
        """POST /batches: the samples of one shard of an epoch, decoded, in index order, as they
        stream in (a constant amount of memory whatever the count). With `scales` in the request,
        each is a MultiScaleSample (one image and one mask per scale), else a Sample.

        The request is sent when batch() is called, so a bad request raises ServiceError here;
        the returned iterator raises BatchStreamError if the stream breaks and cannot be resumed.
        With `count` in the request, a stream that ends short of the shard's samples counts as
        broken. Close the iterator (or exhaust it) to release the connection.
        """
        resp = self._open_batch(request)
        return self._stream(resp, request)

    def stream(self, **request: Any) -> Iterator[AnySample]:
        """The samples of the request's shard, like batch(), through as many /batches requests
        as the service needs: a shard larger than the service streams at once (413
        BATCH_TOO_LARGE) is cut in two sub-shards, recursively (shard s of S = shards s and
        s + S of 2 S), so each sample still comes exactly once, though not in index order."""
        try:
            return self.batch(**request)
        except ServiceError as e:
            shard, shards = int(request.get("shard", 0)), int(request.get("shards", 1))
            if e.code != "BATCH_TOO_LARGE" or shards * 2 > MAX_SHARDS:
                raise
        if "blockSize" in request or "start" in request:
            # An ordered request (see PatchDataset(block_size=...)): cut the range [start, end) of
            # the shard in two halves, so the samples still come in the shard's order.
            size = _shard_size(request)
            start = int(request.get("start", 0))
            if size is not None and size > 1:
                half = size // 2
                return self._in_parts([{**request, "start": start, "limit": half}, {**request, "start": start + half, "limit": size - half}])
        return self._in_parts([{**request, "shard": shard + shards * k, "shards": shards * 2} for k in (0, 1)])

    def _in_parts(self, parts: List[Dict[str, Any]]) -> Iterator[AnySample]:
        for part in parts:
            yield from self.stream(**part)  # closing this generator closes the stream in use

    # -- batches ---------------------------------------------------------------------------

    def _open_batch(self, request: Dict[str, Any]) -> requests.Response:
        # Tars of JPEGs do not compress: ask for the bytes as they are, so resp.raw is the tar.
        resp = self._request("POST", "/batches", json=request, stream=True, headers={"Accept-Encoding": "identity"})
        resp.raw.decode_content = True
        return resp

    def _stream(self, resp: requests.Response, request: Dict[str, Any]) -> Iterator[AnySample]:
        version = resp.headers.get("X-Dataset-Version")
        expected = _shard_size(request)
        done = set()
        resumes = 0
        while True:
            try:
                for parts in _sample_members(resp.raw):
                    descriptor = json.loads(parts["json"].decode("utf-8"))
                    index = int(descriptor["index"])
                    if index in done:
                        continue  # delivered before the stream broke
                    sample = _decode(parts, descriptor)
                    done.add(index)
                    yield sample
                if expected is None or len(done) >= expected:
                    return
                raise _EndedEarly(f"the stream ended after {len(done)} of {expected} samples")
            except _STREAM_ERRORS as e:
                if expected is not None and len(done) >= expected:
                    return  # everything arrived; only the tar's end was lost
                if resumes >= self.retries:
                    raise BatchStreamError(f"batch stream broke after {len(done)} samples, {resumes} resumes: {e}") from e
                failure = e
            finally:
                resp.close()
            self._sleep(min(self._backoff_delay(resumes), self.max_wait))
            resumes += 1
            resp = self._open_batch(request)
            if resp.headers.get("X-Dataset-Version") != version:
                resp.close()
                raise BatchStreamError(
                    f"the dataset changed while streaming ({version} -> {resp.headers.get('X-Dataset-Version')}): "
                    f"cannot resume after {len(done)} samples ({failure})"
                )

    # -- transport -------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, stream: bool = False, headers: Optional[Dict[str, str]] = None, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        all_headers = {**self._headers, **(headers or {})}
        attempt = 0
        while True:
            try:
                resp = self.session.request(method, url, headers=all_headers, timeout=self.timeout, stream=stream, **kwargs)
            except requests.exceptions.SSLError:
                raise
            except requests.ConnectionError:
                if attempt >= self.retries:
                    raise
                delay = self._backoff_delay(attempt)
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    raise _service_error(resp)
                after = retry_after_seconds(resp.headers.get("Retry-After"))
                delay = after if after is not None else self._backoff_delay(attempt)
                resp.close()
            self._sleep(min(delay, self.max_wait))
            attempt += 1

    def _backoff_delay(self, attempt: int) -> float:
        # Jitter keeps the workers of a DataLoader from retrying in lockstep.
        return self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)


def retry_after_seconds(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Seconds a Retry-After header asks to wait (delta-seconds or an HTTP date); None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _service_error(resp: requests.Response) -> ServiceError:
    status = resp.status_code
    try:
        problem = resp.json() if "json" in resp.headers.get("Content-Type", "") else None
    except ValueError:
        problem = None
    finally:
        resp.close()
    if isinstance(problem, dict):
        code = str(problem.get("code") or f"HTTP_{status}")
        detail = str(problem.get("detail") or problem.get("title") or resp.reason or "")
        return ServiceError(status, code, detail, problem)
    text = (resp.text or "").strip()
    return ServiceError(status, f"HTTP_{status}", text[:500] or (resp.reason or ""))


def _shard_size(request: Dict[str, Any]) -> Optional[int]:
    """Samples of the request's shard, when the request says its count."""
    if "count" not in request:
        return None
    n = len(shard_indices(int(request["count"]), int(request.get("shard", 0)), int(request.get("shards", 1)), int(request.get("blockSize", 1))))
    n = max(0, n - int(request.get("start", 0)))
    return min(n, int(request["limit"])) if "limit" in request else n


def shard_indices(count: int, shard: int, shards: int, block: int = 1) -> List[int]:
    """The epoch indices shard `shard` of `shards` holds, as the service deals them: blocks of
    `block` consecutive indices, block g to shard g mod shards (block 1: shard, shard + shards, ...)."""
    out: List[int] = []
    for b0 in range(shard * block, count, shards * block):
        out.extend(range(b0, min(b0 + block, count)))
    return out


def read_shard(path: str) -> Iterator[AnySample]:
    """The samples of a WebDataset tar shard written by `npm run export` (or saved from
    POST /batches), decoded like a stream's, in the shard's order."""
    with open(path, "rb") as f:
        for parts in _sample_members(f):
            yield _decode(parts, json.loads(parts["json"].decode("utf-8")))


def _complete(parts: Dict[str, bytes]) -> bool:
    if "json" not in parts:
        return False
    # Multi-scale samples (img.0.jpg, mask.0.png, img.1.jpg, ...) end with their JSON; _decode
    # checks that every scale the descriptor names came.
    if any(e.startswith("img.") for e in parts):
        return True
    return any(e in parts for e in MASK_EXTENSIONS) and any(e in parts for e in IMAGE_EXTENSIONS)


def _sample_members(raw: Any) -> Iterator[Dict[str, bytes]]:
    """The tar's members grouped by key (WebDataset: the file name up to its first dot), one dict
    extension -> bytes per sample, yielded as soon as the sample's three members are in."""
    key: Optional[str] = None
    parts: Dict[str, bytes] = {}
    with tarfile.open(fileobj=raw, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            k, dot, ext = name.partition(".")
            if not dot:
                raise BatchStreamError(f"unexpected member {member.name!r} in the batch")
            f = tar.extractfile(member)
            data = f.read() if f is not None else b""
            if k != key:
                if parts:
                    raise BatchStreamError(f"sample {key} is incomplete: it has only {sorted(parts)}")
                key, parts = k, {}
            parts[ext.lower()] = data
            if _complete(parts):
                yield parts
                key, parts = None, {}
    if parts:
        raise _EndedEarly(f"the stream ended inside sample {key}")


def _decode(parts: Dict[str, bytes], descriptor: Dict[str, Any]) -> AnySample:
    if "scales" in descriptor:
        pairs = [
            _decode_pair(parts, f"img.{k}.", f"mask.{k}.", (int(sc.get("height", 0)), int(sc.get("width", 0))))
            for k, sc in enumerate(descriptor["scales"])
        ]
        return MultiScaleSample([p[0] for p in pairs], [p[1] for p in pairs], descriptor)
    shape = (int(descriptor.get("height", 0)), int(descriptor.get("width", 0)))
    image, mask = _decode_pair(parts, "", "mask.", shape)
    return Sample(image, mask, descriptor)


def _decode_pair(parts: Dict[str, bytes], image_prefix: str, mask_prefix: str, shape: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """The image and mask members named <image_prefix><ext> and <mask_prefix><ext>, decoded."""
    ext = next((e for e in IMAGE_EXTENSIONS if image_prefix + e in parts), None)
    mask_ext = next((e for e in ("png", "npy", "raw") if mask_prefix + e in parts), None)
    if ext is None or mask_ext is None:
        raise BatchStreamError(f"a sample lacks its {image_prefix}* or {mask_prefix}* member: it has {sorted(parts)}")
    data, mask_data = parts[image_prefix + ext], parts[mask_prefix + mask_ext]
    if ext == "npy":
        image = _array(np.load(io.BytesIO(data), allow_pickle=False), shape + (3,))
    elif ext == "raw":
        image = _array(np.frombuffer(data, dtype=np.uint8), shape + (3,))
    else:
        image = decode_image(data)
    if mask_ext == "npy":
        mask = _array(np.load(io.BytesIO(mask_data), allow_pickle=False), shape)
    elif mask_ext == "raw":
        mask = _array(np.frombuffer(mask_data, dtype=np.uint8), shape)
    else:
        mask = decode_mask(mask_data)
    return image, mask


def _array(a: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """A lossless batch member as a writable uint8 array of the descriptor's shape."""
    if a.dtype != np.uint8 or a.size != int(np.prod(shape)):
        raise BatchStreamError(f"an array member has {a.size} {a.dtype} values, not {shape} uint8")
    return a.reshape(shape).copy()


def decode_image(data: bytes) -> np.ndarray:
    """JPEG, PNG or WebP bytes -> H x W x 3 uint8 RGB (a writable copy)."""
    with Image.open(io.BytesIO(data)) as im:
        rgb = im if im.mode == "RGB" else im.convert("RGB")
        return np.array(rgb, dtype=np.uint8)


def decode_mask(data: bytes) -> np.ndarray:
    """An 8-bit grey PNG of label values -> H x W uint8, values unchanged."""
    with Image.open(io.BytesIO(data)) as im:
        if im.mode not in ("L", "P"):
            raise BatchStreamError(f"a mask must be an 8-bit single-channel PNG, not mode {im.mode}")
        return np.array(im, dtype=np.uint8)

"""MNIST: downloaded once into a cache, checked against known digests, read from IDX files.

The download goes through ``fetch(url, destination)`` (``urllib`` by default, which also reads
``file://`` URLs), so a mirror, a local directory or a test double can stand in for the network.
A file is kept in the cache only once its MD5 digest matches; a cached file is checked again
on every load, and fetched anew if it does not match.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from .batches import one_hot

#: Where the four files are fetched from by default (the mirror torchvision uses).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: The four files and the MD5 digests of their published versions.
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

# IDX type codes (the third byte of the magic number) and their big-endian NumPy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

Fetch = Callable[[str, Path], None]


def default_cache_dir() -> Path:
    """``$VECGRAD_DATA/mnist``, else ``$XDG_CACHE_HOME/vecgrad/mnist``, else ``~/.cache/vecgrad/mnist``."""
    if os.environ.get("VECGRAD_DATA"):
        return Path(os.environ["VECGRAD_DATA"]) / "mnist"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "vecgrad" / "mnist"


def urllib_fetch(url: str, destination: Path) -> None:
    """Copy the resource at ``url`` (``https://``, ``http://`` or ``file://``) to ``destination``."""
    with urllib.request.urlopen(url, timeout=60) as response, open(destination, "wb") as file:
        shutil.copyfileobj(response, file)


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _url(base: str | os.PathLike, name: str) -> str:
    """``base`` (a URL or a local directory) joined with a file name."""
    base = os.fspath(base)
    if len(urllib.parse.urlparse(base).scheme) <= 1:  # no scheme, or a Windows drive letter
        return Path(base, name).resolve().as_uri()
    return base.rstrip("/") + "/" + name


def download(
    name: str, md5: str, cache_dir: Path, base_url: str | os.PathLike = MNIST_URL, fetch: Fetch = urllib_fetch
) -> Path:
    """The cached copy of ``name``, fetched from ``base_url`` unless a copy with digest ``md5`` is cached.

    The file is fetched into a temporary name and moved into place only after its digest
    matches, so the cache never holds a partial or corrupted file.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / name
    if path.exists() and md5sum(path) == md5:
        return path
    partial = cache_dir / (name + ".part")
    url = _url(base_url, name)
    try:
        try:
            fetch(url, partial)
        except OSError as error:  # urllib's URLError is an OSError
            raise OSError(
                f"download: could not fetch {url} ({error}); put the file in {cache_dir}, "
                "or pass base_url= a mirror or a local folder holding it"
            ) from error
        actual = md5sum(partial)
        if actual != md5:
            raise ValueError(f"download: {url} has MD5 {actual}, expected {md5}; the file was not kept")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (gzip-compressed if its name ends in ``.gz``).

    Layout: two zero bytes, a type code, the number of dimensions ``d``, then ``d`` big-endian
    uint32 sizes and the data in C order.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as file:
        content = file.read()
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number {content[:4]!r})")
    dtype, ndim = np.dtype(_IDX_DTYPES[content[2]]), content[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in np.frombuffer(content[4:header], dtype=">u4"))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise ValueError(
            f"read_idx: {path} holds {len(content)} bytes, but its header {shape} calls for {expected}"
        )
    return np.frombuffer(content, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(
    cache_dir: str | os.PathLike | None = None,
    base_url: str | os.PathLike = MNIST_URL,
    checksums: Mapping[str, str] = MNIST_FILES,
    fetch: Fetch = urllib_fetch,
    dtype=np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, Y_train, X_test, Y_test)``: MNIST as columns, fetched into ``cache_dir`` on first use.

    ``X`` is ``(784, m)`` with pixels scaled to ``[0, 1]``, ``Y`` one-hot ``(10, m)``, both ``dtype``.
    ``base_url`` may be a URL or a local directory holding the four files; ``checksums`` maps
    each file name to its MD5 digest.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    arrays = {}
    for name, md5 in checksums.items():
        arrays[name] = read_idx(download(name, md5, cache, base_url, fetch))
    result = []
    for split in ("train", "t10k"):
        images = arrays[f"{split}-images-idx3-ubyte.gz"]
        labels = arrays[f"{split}-labels-idx1-ubyte.gz"]
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"load_mnist: {split} images {images.shape} and labels {labels.shape} do not match"
            )
        x = (images.reshape(images.shape[0], -1).T / 255).astype(dtype)
        result += [x, one_hot(labels.astype(np.int64), 10, dtype)]
    return tuple(result)

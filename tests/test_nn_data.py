"""nn.data: the embedded digits, the synthetic problems, the MNIST loader and the batch iterator."""

import gzip
import hashlib

import numpy as np
import pytest

import nn
from nn.data import mnist

pytestmark = pytest.mark.filterwarnings("error")


class TestDigits:
    def test_shapes_dtype_and_columns(self):
        """X is (64, m) float32 in [0, 1], Y one-hot (10, m); 1,797 examples in all."""
        x_train, y_train, x_test, y_test = nn.data.load_digits()
        assert x_train.shape[0] == x_test.shape[0] == 64
        assert y_train.shape[0] == y_test.shape[0] == 10
        assert x_train.shape[1] == y_train.shape[1] and x_test.shape[1] == y_test.shape[1]
        assert x_train.shape[1] + x_test.shape[1] == 1797
        for array in (x_train, y_train, x_test, y_test):
            assert array.dtype == np.float32
        both = np.concatenate([x_train, x_test], axis=1)
        assert both.min() == 0.0 and both.max() == 1.0
        for y in (y_train, y_test):
            assert set(np.unique(y)) == {0.0, 1.0}
            np.testing.assert_array_equal(y.sum(axis=0), 1)

    def test_content_is_the_uci_test_set(self):
        """Class counts are those published for the UCI optdigits test set (178, 182, ... 180)."""
        _, y_train, _, y_test = nn.data.load_digits()
        counts = y_train.sum(axis=1) + y_test.sum(axis=1)
        np.testing.assert_array_equal(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        images, labels = nn.data.digits.load_digits_raw()
        # The first example of the file: a zero, its top row (0, 0, 5, 13, 9, 1, 0, 0).
        assert labels[0] == 0
        np.testing.assert_array_equal(images[0, :8], [0, 0, 5, 13, 9, 1, 0, 0])
        assert images.dtype == np.uint8 and images.max() == 16

    def test_pixels_are_scaled_by_16(self):
        """Every pixel is one of the 17 levels k/16."""
        x_train, *_ = nn.data.load_digits()
        np.testing.assert_array_equal(np.unique(x_train * 16), np.arange(17))

    def test_split_is_reproducible_and_disjoint(self):
        """The same seed gives the same split; train and test together hold each example once."""
        first, second = nn.data.load_digits(), nn.data.load_digits()
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b)
        images, labels = nn.data.digits.load_digits_raw()
        rows = {(tuple(row), label) for row, label in zip(images, labels)}
        x_train, y_train, x_test, y_test = first
        x = np.concatenate([x_train, x_test], axis=1)
        y = np.concatenate([y_train, y_test], axis=1)
        split_rows = {(tuple(np.rint(col * 16).astype(np.uint8)), int(k)) for col, k in zip(x.T, y.argmax(0))}
        assert split_rows == rows
        other = nn.data.load_digits(seed=1)
        assert not np.array_equal(other[0], x_train)

    def test_float64_on_request(self):
        """dtype=np.float64 gives float64 arrays."""
        assert all(a.dtype == np.float64 for a in nn.data.load_digits(dtype=np.float64))


class TestSynthetic:
    @pytest.mark.parametrize("make", [nn.data.make_moons, nn.data.make_spirals])
    def test_shapes_labels_and_balance(self, make):
        """X is (2, m), Y is (1, m) of 0/1 labels, the two classes of equal size."""
        x, y = make(101, seed=0)
        assert x.shape == (2, 101) and y.shape == (1, 101)
        assert x.dtype == np.float32 and y.dtype == np.float32
        assert set(np.unique(y)) == {0.0, 1.0}
        assert abs(int(y.sum()) - 50) <= 1

    @pytest.mark.parametrize("make", [nn.data.make_moons, nn.data.make_spirals])
    def test_reproducible_from_the_seed(self, make):
        """The same seed gives the same points; another seed others."""
        a, b, c = make(50, seed=3), make(50, seed=3), make(50, seed=4)
        np.testing.assert_array_equal(a[0], b[0])
        assert not np.array_equal(a[0], c[0])

    def test_noiseless_moons_lie_on_their_circles(self):
        """Without noise, class 0 lies on the unit circle at (0, 0), class 1 on the one at (1, 0.5)."""
        x, y = nn.data.make_moons(200, noise=0.0, dtype=np.float64)
        centres = np.where(y == 0, [[0.0], [0.0]], [[1.0], [0.5]])
        np.testing.assert_allclose(np.hypot(*(x - centres)), 1.0, rtol=1e-12)
        assert (x[1][y[0] == 0] >= 0).all() and (x[1][y[0] == 1] <= 0.5).all()

    def test_noiseless_spirals_have_radius_t_and_opposite_arms(self):
        """Without noise, the two arms are point reflections of each other: θ differs by π."""
        x, y = nn.data.make_spirals(400, noise=0.0, turns=1.0, dtype=np.float64)
        radius = np.hypot(*x)
        assert radius.min() >= 0.05 - 1e-12 and radius.max() <= 1.0 + 1e-12
        theta = np.arctan2(x[1], x[0])
        for label, shift in ((0, 0.0), (1, np.pi)):
            arm = y[0] == label
            residual = np.angle(np.exp(1j * (theta[arm] - 2 * np.pi * radius[arm] - shift)))
            np.testing.assert_allclose(residual, 0.0, atol=1e-9)

    def test_load_moons_splits(self):
        """load_moons returns a train/test split of the generated columns."""
        x_train, y_train, x_test, y_test = nn.data.load_moons(m=100)
        assert x_train.shape == (2, 80) and x_test.shape == (2, 20)
        assert y_train.shape == (1, 80) and y_test.shape == (1, 20)


class TestBatches:
    X = np.arange(30.0).reshape(3, 10)
    Y = np.arange(10.0).reshape(1, 10)

    def test_each_column_once_per_epoch_and_aligned(self):
        """One pass yields every column exactly once, X and Y columns kept together."""
        batches = nn.data.Batches(self.X, self.Y, batch_size=4, seed=0)
        seen = []
        for x, y in batches:
            np.testing.assert_array_equal(x[0], y[0] * 1.0)  # row 0 of X is 0..9, like Y
            seen.extend(y[0].tolist())
        assert sorted(seen) == list(range(10))
        assert [x.shape[1] for x, _ in batches] == [4, 4, 2] and len(batches) == 3

    def test_drop_last(self):
        """drop_last leaves out the remainder batch."""
        batches = nn.data.Batches(self.X, self.Y, batch_size=4, drop_last=True)
        assert [x.shape[1] for x, _ in batches] == [4, 4] and len(batches) == 2

    def test_reshuffles_every_epoch_reproducibly(self):
        """Each pass has a new order; two iterators with the same seed give the same orders."""
        a = nn.data.Batches(self.X, self.Y, batch_size=10, seed=5)
        b = nn.data.Batches(self.X, self.Y, batch_size=10, seed=5)
        orders_a = [next(iter(a))[1][0].tolist() for _ in range(3)]
        orders_b = [next(iter(b))[1][0].tolist() for _ in range(3)]
        assert orders_a == orders_b
        assert orders_a[0] != orders_a[1]

    def test_no_shuffle_keeps_order(self):
        """shuffle=False yields the columns in order."""
        batches = nn.data.Batches(self.X, self.Y, batch_size=3, shuffle=False)
        assert np.concatenate([y for _, y in batches], axis=1)[0].tolist() == list(range(10))

    def test_mismatched_columns_are_rejected(self):
        """X and Y with different numbers of columns are a ValueError."""
        with pytest.raises(ValueError, match="columns"):
            nn.data.Batches(self.X, self.Y[:, :5], batch_size=2)


def write_idx(path, array):
    """Write ``array`` (uint8) as a gzip-compressed IDX file, by the format's definition."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def mirror(tmp_path):
    """A local directory holding four small MNIST-format files, and their digests."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mirror"
    folder.mkdir()
    content = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.array([3, 0, 9, 1, 3]),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.array([7, 2]),
    }
    for name, array in content.items():
        write_idx(folder / name, array)
    checksums = {name: md5(folder / name) for name in content}
    return folder, checksums, content


class TestMnist:
    def test_loads_from_a_file_url_into_the_cache(self, mirror, tmp_path):
        """Files fetched from a file:// URL are checked, cached and parsed into columns."""
        folder, checksums, content = mirror
        cache = tmp_path / "cache"
        x_train, y_train, x_test, y_test = nn.data.load_mnist(cache, folder.as_uri(), checksums)
        assert x_train.shape == (784, 5) and x_test.shape == (784, 2)
        assert x_train.dtype == np.float32 and y_train.dtype == np.float32
        images = content["train-images-idx3-ubyte.gz"]
        np.testing.assert_allclose(x_train[:, 2], images[2].reshape(-1) / 255, rtol=1e-6)
        np.testing.assert_array_equal(y_train.argmax(axis=0), [3, 0, 9, 1, 3])
        np.testing.assert_array_equal(y_test.argmax(axis=0), [7, 2])
        assert sorted(p.name for p in cache.iterdir()) == sorted(checksums)

    def test_second_load_uses_the_cache(self, mirror, tmp_path):
        """Once cached, nothing is fetched again."""
        folder, checksums, _ = mirror
        cache = tmp_path / "cache"
        first = nn.data.load_mnist(cache, str(folder), checksums)  # a plain local path works too

        def no_network(url, destination):
            raise AssertionError(f"fetched {url} although it is cached")

        second = nn.data.load_mnist(cache, "https://example.invalid/", checksums, fetch=no_network)
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a, b)

    def test_checksum_mismatch_is_an_error_and_keeps_nothing(self, mirror, tmp_path):
        """A file whose digest differs raises ValueError and leaves no file in the cache."""
        folder, checksums, _ = mirror
        cache = tmp_path / "cache"
        wrong = dict(checksums, **{"t10k-labels-idx1-ubyte.gz": "0" * 32})
        with pytest.raises(ValueError, match="MD5"):
            nn.data.load_mnist(cache, folder.as_uri(), wrong)
        assert not (cache / "t10k-labels-idx1-ubyte.gz").exists()
        assert not list(cache.glob("*.part"))

    def test_corrupted_cache_is_fetched_again(self, mirror, tmp_path):
        """A cached file that no longer matches its digest is replaced by a fresh download."""
        folder, checksums, _ = mirror
        cache = tmp_path / "cache"
        nn.data.load_mnist(cache, folder.as_uri(), checksums)
        (cache / "train-labels-idx1-ubyte.gz").write_bytes(b"garbage")
        fetched = []

        def fetch(url, destination):
            fetched.append(url.rsplit("/", 1)[-1])
            mnist.urllib_fetch(url, destination)

        _, y_train, _, _ = nn.data.load_mnist(cache, folder.as_uri(), checksums, fetch=fetch)
        assert fetched == ["train-labels-idx1-ubyte.gz"]
        np.testing.assert_array_equal(y_train.argmax(axis=0), [3, 0, 9, 1, 3])

    def test_default_files_are_the_published_ones(self):
        """The default download names the four MNIST files, each with a 32-hex-digit MD5."""
        assert sorted(mnist.MNIST_FILES) == sorted(
            f"{split}-{kind}-idx{n}-ubyte.gz"
            for split in ("train", "t10k")
            for kind, n in (("images", 3), ("labels", 1))
        )
        assert all(len(d) == 32 and int(d, 16) >= 0 for d in mnist.MNIST_FILES.values())

    def test_read_idx_other_types_and_bad_files(self, tmp_path):
        """read_idx reads big-endian int16 data uncompressed, and rejects a bad magic or length."""
        array = np.array([[1, -2, 300], [4, 5, -600]], dtype=">i2")
        path = tmp_path / "data.idx"
        path.write_bytes(bytes([0, 0, 0x0B, 2]) + np.array([2, 3], dtype=">u4").tobytes() + array.tobytes())
        np.testing.assert_array_equal(nn.data.read_idx(path), array)
        path.write_bytes(b"\x01\x02\x03\x04")
        with pytest.raises(ValueError, match="magic"):
            nn.data.read_idx(path)
        path.write_bytes(bytes([0, 0, 0x08, 1]) + np.array([5], dtype=">u4").tobytes() + b"abc")
        with pytest.raises(ValueError, match="bytes"):
            nn.data.read_idx(path)

    def test_unreachable_source_names_the_url_and_the_cache(self, tmp_path):
        """A failed download is an OSError saying what was fetched and where the file can go."""
        with pytest.raises(OSError, match="could not fetch .*train-images-idx3-ubyte.gz"):
            nn.data.load_mnist(tmp_path / "cache", tmp_path / "no-such-folder")
        assert not list((tmp_path / "cache").iterdir())

"""The batch's artefacts are ordinary .npz files, only written with a faster deflate."""

from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recs.formats import npz


def test_numpy_reads_what_we_write_without_pickle() -> None:
    arrays = {"ids": np.array(["rice", "milk", "ласточка"]), "n": np.asarray(3, np.int64),
              "scores": np.array([0.5, 0.25], np.float32), "empty": np.zeros(0, np.int32)}
    blob = npz.to_bytes(arrays)
    with np.load(io.BytesIO(blob), allow_pickle=False) as f:
        assert sorted(f.files) == sorted(arrays)
        for name, array in arrays.items():
            assert f[name].dtype == array.dtype and np.array_equal(f[name], array)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        kinds = {i.filename: i.compress_type for i in z.infolist()}
    # Floats hardly deflate: they are stored; the rest is deflated.
    assert kinds == {"ids.npy": zipfile.ZIP_DEFLATED, "n.npy": zipfile.ZIP_DEFLATED,
                     "scores.npy": zipfile.ZIP_STORED, "empty.npy": zipfile.ZIP_DEFLATED}


@given(hnp.arrays(st.sampled_from([np.int8, np.int32, np.int64, np.float32, np.float64]),
                  hnp.array_shapes(max_dims=2, max_side=50)))
def test_any_numeric_array_round_trips_bit_for_bit(array: np.ndarray) -> None:
    with np.load(io.BytesIO(npz.to_bytes({"a": array})), allow_pickle=False) as f:
        assert f["a"].tobytes() == array.tobytes() and f["a"].shape == array.shape


def test_every_member_passes_its_crc_and_the_same_arrays_give_the_same_bytes(
        tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The members are deflated side by side and laid out by hand: zipfile's own check reads
    each back against its CRC, and a re-run of a night writes an identical artefact."""
    rng = np.random.default_rng(3)
    arrays = {"items": rng.integers(0, 1000, 300_000).astype(np.int32),
              "scores": rng.random(300_000).astype(np.float32),
              "matrix": np.arange(12, dtype=np.int64).reshape(3, 4).T,  # not C-contiguous
              "scalar": np.asarray(7, np.int64)}
    blob = npz.to_bytes(arrays)
    with zipfile.ZipFile(io.BytesIO(blob)) as z:
        assert z.testzip() is None
    assert npz.to_bytes(arrays) == blob
    npz.save(tmp_path / "a.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == blob
    with np.load(tmp_path / "a.npz", allow_pickle=False) as f:
        assert np.array_equal(f["matrix"], arrays["matrix"])
        assert f["scalar"].shape == () and int(f["scalar"]) == 7


def test_read_gives_what_np_load_gives_and_refuses_a_damaged_archive() -> None:
    arrays = {"ids": np.array(["rice", "milk"]), "items": np.arange(100_000, dtype=np.int32),
              "scores": np.linspace(0, 1, 1000, dtype=np.float32),
              "scalar": np.asarray(7, np.int64)}
    blob = npz.to_bytes(arrays)
    read = npz.read(blob)
    with np.load(io.BytesIO(blob), allow_pickle=False) as f:
        assert sorted(read) == sorted(f.files)
        for name in f.files:
            assert read[name].dtype == f[name].dtype and np.array_equal(read[name], f[name])
    assert read["items"].flags.writeable  # as np.load's: the steps may scale in place
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a=np.arange(10))  # an archive numpy wrote reads too
    assert np.array_equal(npz.read(buffer.getvalue())["a"], np.arange(10))
    damaged = bytearray(blob)
    damaged[len(blob) // 2] ^= 0xFF
    with pytest.raises((ValueError, zlib.error)):
        npz.read(bytes(damaged))

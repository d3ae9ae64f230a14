"""debias.io.safe_read inflates gzip with zlib directly: the same bytes as the gzip module
(several members, zero padding, output exactly at a block boundary) and the same refusals
(truncated stream, bad CRC, trailing junk, over the cap)."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest

from debias.errors import InputError
from debias.io import safe_read
from debias.io.safe_read import _inflate, read_bytes

BIG = 1 << 40
RNG = np.random.default_rng(0)
BODIES = [
    b"",
    b"abc",
    b"x" * (40 << 20),  # several 16 MiB output blocks from a few KiB
    RNG.integers(0, 256, 3 << 20, dtype=np.uint8).tobytes(),  # incompressible
    b"y" * safe_read._OUT_CHUNK,  # ends exactly at a block boundary
]


@pytest.mark.parametrize("body", BODIES, ids=lambda b: f"{len(b)}B")
@pytest.mark.parametrize(
    "wrap",
    [
        lambda z: z,
        lambda z: z + gzip.compress(b"second member"),
        lambda z: z + b"\0" * 5000,
        lambda z: z + b"\0" * 3 + gzip.compress(b"after padding"),
    ],
    ids=["one", "two members", "zero padding", "padding then member"],
)
def test_same_bytes_as_gzip_module(body, wrap):
    data = wrap(gzip.compress(body, compresslevel=1))
    assert _inflate(io.BytesIO(data), "x.gz", BIG) == gzip.decompress(data)


@pytest.mark.parametrize(
    "data, said",
    [
        (gzip.compress(b"abc" * 1000)[:-4], "cut short"),
        (gzip.compress(b"abc")[:12], "cut short"),
        (b"\x1f\x8b", "cut short"),
        (gzip.compress(b"abc") + b"junk", "not a readable gzip"),
    ],
    ids=["no trailer", "cut in the data", "magic only", "trailing junk"],
)
def test_refuses_broken_streams(data, said):
    with pytest.raises(InputError, match=said):
        _inflate(io.BytesIO(data), "x.gz", BIG)


def test_refuses_a_wrong_crc():
    data = bytearray(gzip.compress(b"hello world" * 100))
    data[-6] ^= 1  # a byte of the CRC-32
    with pytest.raises(InputError, match="not a readable gzip"):
        _inflate(io.BytesIO(bytes(data)), "x.gz", BIG)


def test_cap_holds(tmp_path):
    f = tmp_path / "a.json.gz"
    f.write_bytes(gzip.compress(b"z" * (3 << 20)))
    with pytest.raises(InputError, match="decompresses to more than"):
        read_bytes(f, cap=1 << 20)
    assert read_bytes(f, cap=4 << 20) == b"z" * (3 << 20)

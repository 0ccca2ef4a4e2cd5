"""Vectorized string encoders: ids, hex hashes, IPv4 addresses, digit strings.

Formatting tens of millions of ids with Python f-strings would dominate the simulator's run time, so
strings are built as byte matrices in numpy and handed to Arrow as buffers without a copy per value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ENTITY_KEY = {"account": 1, "post": 2, "event": 3, "session": 4, "report": 5, "device": 6, "image": 7}


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on uint64, so distinct inputs give distinct ids."""
    z = np.asarray(x).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def strings_from_matrix(chars: np.ndarray, mask: np.ndarray | None = None) -> pa.StringArray:
    """One string per row of an (n, w) uint8 matrix; `mask` keeps only the chosen bytes of each row."""
    n, w = chars.shape
    if mask is None:
        data = np.ascontiguousarray(chars).reshape(-1)
        offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
    else:
        data = chars[mask]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(mask.sum(axis=1), out=offsets[1:])
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data)).cast(pa.string())


def _hex_table() -> np.ndarray:
    v = np.arange(65536)
    chars = np.stack([_HEX[(v >> s) & 15] for s in (12, 8, 4, 0)], axis=1).astype(np.uint8)
    return np.ascontiguousarray(chars).view(np.uint32).reshape(-1)


_HEX4 = _hex_table()   # 16-bit value -> its 4 hex characters packed in a uint32


def hex_matrix(x: np.ndarray) -> np.ndarray:
    """(n, 16) lowercase hex digits of uint64 values (four table look-ups per value)."""
    words = np.asarray(x, dtype=np.uint64).astype(">u8").view(">u2").reshape(-1, 4)
    return _HEX4[words].view(np.uint8).reshape(-1, 16)


def hex16(x: np.ndarray) -> pa.StringArray:
    """16 lowercase hex characters per uint64 (the perceptual-hash format of the input contract)."""
    return strings_from_matrix(hex_matrix(x))


def make_ids(prefix: str, numbers: np.ndarray, key: int) -> pa.StringArray:
    """`prefix` + 16 hex chars of a keyed bijection of `numbers`: unique, and not ordered like them."""
    keyed = np.asarray(numbers).astype(np.uint64) ^ np.uint64(key & 0xFFFFFFFFFFFFFFFF)
    body = hex_matrix(mix64(keyed))
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    chars = np.empty((body.shape[0], head.size + 16), dtype=np.uint8)
    chars[:, : head.size] = head
    chars[:, head.size:] = body
    return strings_from_matrix(chars)


def ipv4(x: np.ndarray) -> pa.StringArray:
    """Dotted-quad strings of uint32 addresses (no leading zeros)."""
    x = np.asarray(x, dtype=np.uint64)
    octets = np.stack([(x >> np.uint64(s)) & np.uint64(255) for s in (24, 16, 8, 0)], axis=1).astype(np.int64)
    n = octets.shape[0]
    chars = np.empty((n, 4, 4), dtype=np.uint8)
    mask = np.ones((n, 4, 4), dtype=bool)
    chars[:, :, 0] = octets // 100 + 48
    chars[:, :, 1] = (octets // 10) % 10 + 48
    chars[:, :, 2] = octets % 10 + 48
    chars[:, :, 3] = ord(".")
    mask[:, :, 0] = octets >= 100
    mask[:, :, 1] = octets >= 10
    mask[:, 3, 3] = False
    return strings_from_matrix(chars.reshape(n, 16), mask.reshape(n, 16))


def digits(values: np.ndarray, width: int) -> pa.StringArray:
    """Zero-padded decimal strings of non-negative integers, `width` characters each."""
    v = np.asarray(values, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    chars = ((v[:, None] // powers[None, :]) % 10 + 48).astype(np.uint8)
    return strings_from_matrix(chars)


def mask_strings(values: pa.Array, null: np.ndarray) -> pa.Array:
    """Set rows to null where `null` is true."""
    return pc.if_else(pa.array(null), pa.scalar(None, pa.string()), values)


def _key(seed: int, entity: str) -> int:
    return int(mix64(np.array([seed * 16 + _ENTITY_KEY[entity]], dtype=np.uint64))[0])


class Ids:
    """Keyed id encoders of one run (ids differ between seeds, never collide within a run)."""

    def __init__(self, seed: int) -> None:
        self.keys = {name: _key(seed, name) for name in _ENTITY_KEY}

    def account(self, idx: np.ndarray) -> pa.Array:
        return make_ids("u", idx, self.keys["account"])

    def post(self, number: np.ndarray) -> pa.Array:
        return make_ids("p", number, self.keys["post"])

    def of(self, entity: str, prefix: str, numbers: np.ndarray) -> pa.Array:
        return make_ids(prefix, numbers, self.keys[entity])

"""Synthetic devices and IPv4 addresses: which network a session comes from, down to its /24 prefix.

Addresses are hashes, not draws, wherever they belong to something stable (a household, a proxy pool, a
server), so the posts pass and the interactions pass give the same address without sharing state. The
/8 prefixes only say which kind of network an address is on (docs/simulator.md, "Network prefixes");
what a detector can use is the /24: a household has one of its own, a mobile carrier puts thousands of
strangers behind each of its few CGNAT /24s, a cloud provider packs unrelated tenants into its /24s, and
a proxy pool (farm, ring, sleeper cell, hijack batch) sits in one or two /24s.
"""

from __future__ import annotations

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.encode import mix64

BROADBAND = np.array([58, 60, 114, 116, 121, 124, 183, 218, 222], dtype=np.uint64)
MOBILE = np.array([36, 39, 111, 112, 117, 120, 223], dtype=np.uint64)
CLOUD = np.array([47, 101, 106, 119, 139], dtype=np.uint64)
HOSTING = np.array([5, 45, 146, 185, 193], dtype=np.uint64)   # proxy / VPN hosting
K_HOME, K_CLOUD, K_POOL, K_CARRIER, K_CGNAT = 0x51A7E, 0xC10D, 0x9001, 0xCA221E2, 0xC6A7

# namespaces of pool keys (a group number of one kind never shares a pool with another kind's)
POOL_RING, POOL_HIJACK, POOL_CELL, POOL_LOOSE, POOL_OFFICE = (np.uint64(k << 40) for k in range(1, 6))


def _u64(x: np.ndarray | int) -> np.ndarray:
    return np.asarray(x).astype(np.uint64)


def ip_from(prefixes: np.ndarray, h: np.ndarray) -> np.ndarray:
    """uint32 address: a /8 prefix chosen by the hash, low 24 bits from the hash (a /24 of its own)."""
    h = _u64(h)
    prefix = prefixes[(h % np.uint64(prefixes.size)).astype(np.intp)]
    return ((prefix << np.uint64(24)) | ((h >> np.uint64(8)) & np.uint64(0xFFFFFF))).astype(np.uint32)


def _network(prefixes: np.ndarray, h: np.ndarray, limit: int = 0) -> np.ndarray:
    """A /24 network (address >> 8) from a hash; with `limit`, one of only `limit` networks of that kind."""
    h = _u64(h)
    if limit:
        h = mix64((h % np.uint64(limit)) ^ np.uint64(K_CLOUD))
    first = prefixes[(h % np.uint64(prefixes.size)).astype(np.intp)]
    return (first << np.uint64(16)) | ((h >> np.uint64(8)) & np.uint64(0xFFFF))


def _address(network: np.ndarray, host: np.ndarray) -> np.ndarray:
    return ((_u64(network) << np.uint64(8)) | (_u64(host) & np.uint64(0xFF))).astype(np.uint32)


def home_ip(accounts: np.ndarray, seed: int) -> np.ndarray:
    """The household's broadband address (its own /24, practically)."""
    return ip_from(BROADBAND, mix64(_u64(accounts) ^ np.uint64(K_HOME + seed)))


def mobile_ip(rng: np.random.Generator, accounts: np.ndarray, seed: int) -> np.ndarray:
    """A mobile-carrier address behind CGNAT: one of the account's carrier's few /24s, any host.

    One draw per address, like `random_ip`, so replacing one by the other shifts no later draw.
    """
    h = rng.integers(0, 2**63, size=np.asarray(accounts).size, dtype=np.int64).astype(np.uint64)
    carrier = mix64(_u64(accounts) ^ np.uint64(K_CARRIER + seed)) % np.uint64(P.MOBILE_CARRIERS)
    slot = carrier * np.uint64(P.MOBILE_CARRIER_PREFIXES) + h % np.uint64(P.MOBILE_CARRIER_PREFIXES)
    network = _network(MOBILE, mix64(slot ^ np.uint64(K_CGNAT + seed)))
    return _address(network, h >> np.uint64(32))


def pool_ip(group: np.ndarray | int, slot: np.ndarray | int, seed: int, prefixes: np.ndarray) -> np.ndarray:
    """The slot-th address of a group's pool (farm, ring, server...): PROXY_IPS_PER_PREFIX addresses per
    /24, so a pool of a few addresses sits in one or two /24s. Cloud pools land in one of the providers'
    CLOUD_PREFIXES /24s, shared with unrelated tenants."""
    group, slot = _u64(group), _u64(slot)
    per = np.uint64(P.PROXY_IPS_PER_PREFIX)
    key = mix64((group * np.uint64(64) + slot // per) ^ np.uint64(K_POOL + seed))
    limit = P.CLOUD_PREFIXES if prefixes is CLOUD else 0
    host = np.uint64(1) + ((key >> np.uint64(40)) + (slot % per) * np.uint64(61)) % np.uint64(254)
    return _address(_network(prefixes, key, limit), host)


def random_ip(rng: np.random.Generator, prefixes: np.ndarray, n: int) -> np.ndarray:
    """A fresh address anywhere in the prefixes (a rotating residential proxy)."""
    return ip_from(prefixes, rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64))


def farm_proxy_ip(rng: np.random.Generator, farm: np.ndarray, seed: int) -> np.ndarray:
    """A random address of each farm's small residential-proxy pool (pool size fixed per farm)."""
    lo, hi = P.FARM_PROXY_IPS
    pool = lo + np.asarray(farm, dtype=np.int64) % (hi - lo + 1)
    return pool_ip(farm, rng.integers(0, 1 << 20, size=pool.size) % pool, seed, BROADBAND)


def device_number(accounts: np.ndarray, slot: int | np.ndarray) -> np.ndarray:
    """Personal devices: 4 slots per account (0 phone, 1 second device, 2 scheduler, 3 server/emulator)."""
    return (_u64(accounts) << np.uint64(2)) | _u64(slot)


def ring_device(ring: np.ndarray, slot: np.ndarray) -> np.ndarray:
    return (np.uint64(1) << np.uint64(62)) | (_u64(ring) << np.uint64(4)) | _u64(slot)


def office_device(group: np.ndarray, slot: np.ndarray | int) -> np.ndarray:
    """A device shared by the accounts one person runs (0 office computer, 1 the manager's phone)."""
    return (np.uint64(1) << np.uint64(61)) | (_u64(group) << np.uint64(4)) | _u64(slot)

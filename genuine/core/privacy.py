"""Keyed hashing of personal identifiers (ip, device id): they never reach a table in clear.

HMAC-SHA256 is built from Spark's own sha2 (no Python UDF): HMAC(K, m) = H((K^opad) || H((K^ipad) || m)).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pyspark.sql import Column
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.errors import MissingKeyError

log = logging.getLogger(__name__)
_BLOCK = 64


def load_key(cfg: Config) -> bytes:
    """Key from the environment, else the local key file; local mode creates that file on first use."""
    p = cfg.privacy
    return secret_key(p.key_env, p.key_file, p.create_key_if_missing, "HMAC key",
                      f"this environment ({cfg.env}) refuses to invent one because hashed ids must stay "
                      "comparable across runs")


def secret_key(env_var: str, key_file: str | Path, create: bool, what: str, refusal: str) -> bytes:
    """A 32-byte secret (hex) from $env_var, else key_file; created there (mode 600) only when `create`."""
    value = os.environ.get(env_var)
    if value:
        return bytes.fromhex(value.strip())
    path = Path(key_file)
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    if not create:
        raise MissingKeyError(f"no {what}: set ${env_var} (hex) or provide {path}; {refusal}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.write_text(key.hex())
    path.chmod(0o600)
    log.warning("created a new local %s at %s (untracked; keep it to keep it stable)", what, path)
    return key


def hmac_sha256(col: Column, key: bytes) -> Column:
    """Hex HMAC-SHA256 of a string column; null stays null."""
    if len(key) > _BLOCK:
        import hashlib

        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), F.encode(col, "UTF-8")), 256))
    return F.when(col.isNull(), None).otherwise(F.sha2(F.concat(F.lit(opad), inner), 256))

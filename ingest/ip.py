"""IP addresses in Spark built-ins: well-formedness, and the network prefix that links a proxy pool.

An address is never stored; ingest keeps the HMAC of the full address (`ip_hash`) and the HMAC of its
network prefix (`ip_prefix_hash`): the /24 of an IPv4 address ("a.b.c.0/24") or the /48 of an IPv6
address (its first three hextets, lower case without leading zeros: "2001:db8:0::/48"). An IPv4-mapped
IPv6 address (::ffff:a.b.c.d, in any spelling) is the IPv4 address it maps. Accounts behind one proxy
pool share a prefix without sharing an address. Everything is a Spark expression (no Python UDF).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = rf"^({OCTET}\.){{3}}{OCTET}$"
_V4_TAIL = rf"^(.*:){OCTET}\.{OCTET}\.{OCTET}\.{OCTET}$"     # IPv6 ending in an embedded IPv4 address
_HEXTET = r"^[0-9a-f]{1,4}$"
_HEXTETS = 8


def _hex16(hi: Column, lo: Column) -> Column:
    """Two octets (as text) -> one hextet in lower-case hex without leading zeros."""
    return F.lower(F.conv((hi.cast("int") * 256 + lo.cast("int")).cast("string"), 10, 16))


def _side(text: Column) -> Column:
    """The hextets on one side of "::" (none when that side is empty)."""
    return F.when(text == "", F.array().cast("array<string>")).otherwise(F.split(text, ":"))


def ipv6_hextets(v: Column) -> Column:
    """The 8 hextets of an IPv6 address, lower case without leading zeros; NULL unless well formed.

    Handles "::" compression (exactly one, standing for at least one zero hextet) and an embedded
    IPv4 tail ("::ffff:1.2.3.4", "64:ff9b::1.2.3.4"), which becomes the last two hextets.
    """
    s = F.lower(F.trim(v))
    tail = [F.regexp_extract(s, _V4_TAIL, i) for i in range(2, 6)]
    s = F.when(s.rlike(_V4_TAIL), F.concat(F.regexp_extract(s, _V4_TAIL, 1), _hex16(tail[0], tail[1]),
                                           F.lit(":"), _hex16(tail[2], tail[3]))).otherwise(s)
    halves = F.split(s, "::")
    n_halves = F.size(halves)
    left, right = _side(halves.getItem(0)), _side(halves.getItem(1))
    missing = F.lit(_HEXTETS) - F.size(left) - F.size(right)
    compressed = F.concat(left, F.array_repeat(F.lit("0"), F.greatest(missing, F.lit(0))), right)
    parts = F.when(n_halves == 2, F.when(missing >= 1, compressed)).when(n_halves == 1, F.split(s, ":"))
    well_formed = (F.size(parts) == _HEXTETS) & F.forall(parts, lambda h: h.rlike(_HEXTET))
    return F.when(s.contains(":") & F.coalesce(well_formed, F.lit(False)),
                  F.transform(parts, lambda h: F.lower(F.conv(h, 16, 16))))


def is_ip(v: Column) -> Column:
    """True for a well-formed IPv4 (dotted quad, no leading zeros) or IPv6 address."""
    s = F.trim(v)
    # CASE, not OR: the optimizer would compute the IPv6 parse for every address, IPv4 included.
    return F.when(s.rlike(IPV4), F.lit(True)).otherwise(ipv6_hextets(s).isNotNull())


def _v4_prefix(a: Column, b: Column, c: Column) -> Column:
    return F.concat_ws(".", a.cast("int").cast("string"), b.cast("int").cast("string"),
                       c.cast("int").cast("string"), F.lit("0/24"))


def ip_prefix(v: Column) -> Column:
    """The network prefix text of an address ("a.b.c.0/24" or "h1:h2:h3::/48"); NULL when not an address."""
    s = F.trim(v)
    h = ipv6_hextets(s)
    mapped = F.forall(F.slice(h, 1, 5), lambda x: x == "0") & (h.getItem(5) == "ffff")
    hi, lo = F.conv(h.getItem(6), 16, 10).cast("int"), F.conv(h.getItem(7), 16, 10).cast("int")
    v6 = (F.when(h.isNotNull() & mapped, _v4_prefix(F.floor(hi / 256), hi % 256, F.floor(lo / 256)))
          .when(h.isNotNull(), F.concat(F.concat_ws(":", F.slice(h, 1, 3)), F.lit("::/48"))))
    # IPV4 admits no leading zero, so a matching address's first three octets are already canonical.
    return F.when(s.rlike(IPV4), F.concat(F.substring_index(s, ".", 3), F.lit(".0/24"))).otherwise(v6)

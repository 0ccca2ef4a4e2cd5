"""Network prefixes of IP addresses, built from Spark built-ins, against Python's `ipaddress` as the oracle."""

from __future__ import annotations

import ipaddress

import pytest
from pyspark.sql import functions as F

from genuine.ingest.ip import ip_prefix, is_ip

VALID = [
    "10.1.2.3", "0.0.0.0", "255.255.255.255", "192.168.0.77", " 8.8.4.4 ",
    "2001:db8::1", "2001:DB8:0:0:8:800:200C:417A", "2001:0db8:0000:0042:0000:8a2e:0370:7334",
    "::", "::1", "1::", "fe80::1:2", "2001:db8:abcd:12::", "0:0:0:0:0:0:0:1", "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8", "2001:db8:1:2:3:4:5:6", "0001:0002:0003::", "ABCD:EF01::",
    "::ffff:192.0.2.128", "::FFFF:10.9.8.7", "::ffff:c000:280", "0:0:0:0:0:ffff:1.2.3.4",
    "::ffff:0:1.2.3.4", "::1.2.3.4", "64:ff9b::192.0.2.33", "2001:db8:0:0:0:0:1.2.3.4",
]
INVALID = [
    "999.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "a.b.c.d", "1:2:3:4:5:6:7:8::", "1::2:3:4:5:6:7:8",
    "1::2::3", ":1::", "1:2:3:4:5:6:7", "12345::", "g::1", "1.2.3.4::", "::ffff:01.2.3.4", "::ffff:1.2.3",
    ":::", "1:2:3:4:5:6:7:8:9", "", "fe80::1%eth0",
]


def _oracle(ip: str) -> str:
    """The prefix text by Python's ipaddress: /24 of IPv4 (and IPv4-mapped IPv6), /48 of IPv6."""
    addr = ipaddress.ip_address(ip.strip())
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return str(ipaddress.ip_network(f"{addr}/24", strict=False))
    net = ipaddress.ip_network(f"{addr}/48", strict=False)
    hextets = net.network_address.exploded.split(":")[:3]
    return ":".join(format(int(h, 16), "x") for h in hextets) + "::/48"


def _oracle_valid(ip: str) -> bool:
    if "%" in ip:   # a scoped (link-local) address: ipaddress accepts it, the contract does not
        return False
    try:
        ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return True


def test_oracle_agrees_with_the_lists():
    assert all(_oracle_valid(ip) for ip in VALID)
    assert not any(_oracle_valid(ip) for ip in INVALID)


@pytest.fixture(scope="module")
def computed(spark):
    df = spark.createDataFrame([(ip,) for ip in VALID + INVALID], "ip string")
    rows = df.select("ip", ip_prefix(F.col("ip")).alias("prefix"), is_ip(F.col("ip")).alias("ok")).collect()
    return {r["ip"]: (r["prefix"], r["ok"]) for r in rows}


def test_prefix_matches_ipaddress(computed):
    got = {ip: computed[ip][0] for ip in VALID}
    assert got == {ip: _oracle(ip) for ip in VALID}


def test_validity_matches_ipaddress(computed):
    assert {ip: computed[ip][1] for ip in VALID + INVALID} == {ip: _oracle_valid(ip) for ip in VALID + INVALID}
    assert all(computed[ip][0] is None for ip in INVALID)


def test_known_examples(computed):
    assert computed["10.1.2.3"][0] == "10.1.2.0/24"
    assert computed["2001:db8::1"][0] == "2001:db8:0::/48"
    assert computed["::ffff:192.0.2.128"][0] == computed["::ffff:c000:280"][0] == "192.0.2.0/24"

"""Client addresses: the network an address belongs to, as the anti-fraud windows and the
SMS caps count them."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=4096)
def subnet_of(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 address ('' when not an address;
    an IPv4-mapped IPv6 address counts as its IPv4 address). Cached: parsing is dear, a
    request asks several times, and one address votes several times."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

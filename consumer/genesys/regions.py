"""Genesys Cloud regions -> API and login base URLs (reference §7, SDK ``purecloud_region_hosts.py``).

The API host is ``api.<domain>``, the login host ``login.<domain>`` and the notifications WebSocket
``streaming.<domain>`` (the channel's ``connectUri`` names it; convstream never builds it).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from consumer.errors import ConfigError

__all__ = ["REGION_DOMAINS", "RegionUrls", "region_urls"]

#: Region name -> environment domain, every row of the reference table.
REGION_DOMAINS: Final = MappingProxyType(
    {
        "us-east-1": "mypurecloud.com",
        "us-east-2": "use2.us-gov-pure.cloud",
        "us-west-2": "usw2.pure.cloud",
        "ca-central-1": "cac1.pure.cloud",
        "sa-east-1": "sae1.pure.cloud",
        "mx-central-1": "mxc1.pure.cloud",
        "eu-west-1": "mypurecloud.ie",
        "eu-west-2": "euw2.pure.cloud",
        "eu-central-1": "mypurecloud.de",
        "eu-central-2": "euc2.pure.cloud",
        "eusc-de-east-1": "edee1.eusc-pure.cloud",
        "me-central-1": "mec1.pure.cloud",
        "ap-south-1": "aps1.pure.cloud",
        "ap-northeast-1": "mypurecloud.jp",
        "ap-northeast-2": "apne2.pure.cloud",
        "ap-northeast-3": "apne3.pure.cloud",
        "ap-southeast-1": "apse1.pure.cloud",
        "ap-southeast-2": "mypurecloud.com.au",
    }
)


@dataclass(frozen=True, slots=True)
class RegionUrls:
    """Base URLs (no trailing slash) of one Genesys Cloud environment."""

    api: str
    login: str


def region_urls(
    region: str, *, api_override: str | None = None, login_override: str | None = None
) -> RegionUrls:
    """The API and login base URLs of ``region``; explicit overrides win (tests, proxies).

    A region may also be given as its domain (``mypurecloud.ie``) for environments not in the table.

    Raises:
        ConfigError: the region is unknown and no override covers it (names CONVSTREAM_GENESYS__REGION).
    """
    domain = REGION_DOMAINS.get(region.strip().lower())
    if domain is None and "." in region:
        domain = region.strip().lower()
    if domain is None and (api_override is None or login_override is None):
        known = ", ".join(REGION_DOMAINS)
        raise ConfigError(
            f"unknown Genesys region {region!r}: use one of {known}", variable="CONVSTREAM_GENESYS__REGION"
        )
    api = api_override or f"https://api.{domain}"
    login = login_override or f"https://login.{domain}"
    return RegionUrls(api=api.rstrip("/"), login=login.rstrip("/"))

"""Shadow-AI discovery: find traffic to known AI services in egress-proxy and DNS logs that did
not go through Steward, and bring it into the inventory as unmanaged apps."""

from steward.discovery.logs import FORMATS, LogRecord, Malformed
from steward.discovery.scan import (
    DiscoveryReport,
    Finding,
    GatewayHosts,
    MalformedLine,
    app_name,
    discover,
    purpose,
    read_lines,
)
from steward.discovery.services import Service, ServiceCatalog, ServicesFileError, load_catalog

__all__ = [
    "FORMATS",
    "DiscoveryReport",
    "Finding",
    "GatewayHosts",
    "LogRecord",
    "Malformed",
    "MalformedLine",
    "Service",
    "ServiceCatalog",
    "ServicesFileError",
    "app_name",
    "discover",
    "load_catalog",
    "purpose",
    "read_lines",
]

"""Cloud KMS: the automatic rotation and protection level of every crypto key, in every location."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import Evidence, evidence_kind, redact
from connectors.gcp.clients import GcpClients, message_dict, operation, read_pages, source

SERVICE = "cloudkms.googleapis.com"
KEY_TYPE = "cloudkms.googleapis.com/CryptoKey"


def list_locations(gcp: GcpClients, project_id: str) -> tuple[list[str], dict[str, Any]]:
    """Every Cloud KMS location of the project (key rings live in one location each; there is no `-`)."""
    from google.cloud.location import locations_pb2

    client = gcp.kms()
    locations: list[str] = []
    token, pages = "", 0
    while True:  # the locations mixin answers one page at a time, without a pager
        request = locations_pb2.ListLocationsRequest(name=f"projects/{project_id}", page_size=gcp.page_size,
                                                     page_token=token)  # fmt: skip
        response = client.list_locations(request=request, **gcp.call_options())
        pages += 1
        locations.extend(loc.location_id for loc in response.locations)
        token = response.next_page_token
        if not token:
            break
    return sorted(set(locations)), operation("cloudkms.projects.locations.list", {"name": f"projects/{project_id}"},
                                             pages)  # fmt: skip


def list_crypto_keys(gcp: GcpClients, project_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every crypto key of the project (all locations, all key rings) and the provenance of the listing."""
    client = gcp.kms()
    locations, locations_op = list_locations(gcp, project_id)

    def rings(location: str) -> tuple[list[str], int]:
        parent = f"projects/{project_id}/locations/{location}"
        found, pages = read_pages(client.list_key_rings(request={"parent": parent, "page_size": gcp.page_size},
                                                        **gcp.call_options()), "key_rings")  # fmt: skip
        return [ring.name for ring in found], pages

    def keys(ring: str) -> tuple[list[Any], int]:
        return read_pages(client.list_crypto_keys(request={"parent": ring, "page_size": gcp.page_size},
                                                  **gcp.call_options()), "crypto_keys")  # fmt: skip

    by_location = gcp.fan_out(rings, locations)
    ring_names = sorted(name for names, _ in by_location for name in names)
    by_ring = gcp.fan_out(keys, ring_names)
    found = sorted((message_dict(k) for ks, _ in by_ring for k in ks), key=lambda k: k["name"])
    ops = [
        locations_op,
        operation("cloudkms.projects.locations.keyRings.list", {"locations": locations},
                  sum(pages for _, pages in by_location)),
        operation("cloudkms.projects.locations.keyRings.cryptoKeys.list", {"key_rings": ring_names},
                  sum(pages for _, pages in by_ring)),
    ]  # fmt: skip
    return found, ops


@evidence_kind(
    "gcp.kms.crypto_key.rotation",
    regional=False,
    permissions=("cloudkms.locations.list", "cloudkms.keyRings.list", "cloudkms.cryptoKeys.list"),
)
def collect_crypto_key_rotation(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """Automatic rotation period, purpose, protection level and primary version state of every crypto key."""
    keys, ops = list_crypto_keys(gcp, project_id)
    provenance = source(gcp, SERVICE, f"projects/{project_id}", ops)
    for key in keys:
        yield observe_crypto_key_rotation(key, provenance)


def duration_seconds(value: str | None) -> int | None:
    """A protobuf JSON duration (`"7776000s"`) in whole seconds."""
    if not value:
        return None
    return int(float(value.removesuffix("s")))


def key_location(name: str) -> str:
    """`projects/P/locations/europe-west3/keyRings/R/cryptoKeys/K` -> `europe-west3`."""
    parts = name.split("/")
    return parts[parts.index("locations") + 1].lower()


def observe_crypto_key_rotation(key: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    template = key.get("version_template") or {}
    primary = key.get("primary") or {}
    location = key_location(key["name"])
    return Evidence(
        kind="gcp.kms.crypto_key.rotation",
        resource_id=f"//{SERVICE}/{key['name']}",
        resource_type=KEY_TYPE,
        region=location,
        observed={
            "location": location,
            "purpose": key.get("purpose") or "CRYPTO_KEY_PURPOSE_UNSPECIFIED",
            "algorithm": template.get("algorithm") or primary.get("algorithm"),
            "protection_level": template.get("protection_level") or primary.get("protection_level"),
            "primary_state": primary.get("state"),
            # next_rotation_time moves at every rotation: it stays in raw, out of the state.
            "rotation_period_seconds": duration_seconds(key.get("rotation_period")),
        },
        source=provenance,
        raw=redact({"crypto_key": key}),
    )

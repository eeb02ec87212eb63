"""A node daemon that serves its KME's API in its process says over HTTPS why it makes no key (issue 12 item 1).

Two real ``qkdnet node`` processes; Alice's tag-key send reserve is drained before start (its lease past the
end of the reserve, as issue 12 found it). Expected values come from the drained state (0 slots Alice → Bob,
the bootstrap key's 512 slots Bob → Alice) and the node's floor, not from the status under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qkdnet.kms.node import HALT_RESERVE_SLOTS
from qkdnet.kms.pki import Credential, PkiFiles
from tests.kms.conftest import sae_client
from tests.kms.system import KeyNetwork, wait_until
from tests.kms.test_node_reserve import _drain_send_reserve

SAES = ("SAE_A", "SAE_B")


@pytest.fixture
def net(tmp_path: Path) -> Iterator[KeyNetwork]:
    network = KeyNetwork(tmp_path)
    yield network
    network.stop()


def _status(net: KeyNetwork, pki: PkiFiles, role: str, sae: str, partner: str) -> dict[str, object]:
    """Get status over mutual TLS as ``sae`` at ``role``'s KME, once its API answers."""
    answer: dict[str, object] = {}

    def served() -> bool:
        try:
            with sae_client(pki, sae, net.url(role), ca=pki.ca) as client:
                response = client.get(f"/api/v1/keys/{partner}/status")
        except httpx.TransportError:  # not listening yet
            return False
        assert response.status_code == 200, response.text
        answer.update(response.json())
        return True

    wait_until(served, 60.0, f"{role}'s ETSI API")
    return answer


def test_a_node_below_its_reserve_floor_says_why_in_its_etsi_status(net: KeyNetwork) -> None:
    _drain_send_reserve(net.root, "alice")
    net.start()
    net.wait_log("alice", r"key exchange stops")
    folder = net.root / "pki"
    pki = PkiFiles(folder / "ca.crt", {sae: Credential(folder / f"{sae}.crt", folder / f"{sae}.key") for sae in SAES})

    alice = _status(net, pki, "alice", "SAE_A", "SAE_B")["status_extension"]
    assert isinstance(alice, dict)
    node = alice["node"]
    assert node["key_exchange"] == "stopped"
    assert node["reserve_slots"] == {"alice_to_bob": 0, "bob_to_alice": 512}
    assert "alice → bob 0 slots (0 bits) left" in node["reason"]
    assert f"{HALT_RESERVE_SLOTS} slots needed" in node["reason"]
    assert node["committed_blocks"] == 0

    bob = _status(net, pki, "bob", "SAE_B", "SAE_A")["status_extension"]
    assert isinstance(bob, dict)
    assert bob["node"]["key_exchange"] == "running" and bob["node"]["reason"] is None
    assert bob["node"]["reserve_slots"]["bob_to_alice"] >= HALT_RESERVE_SLOTS

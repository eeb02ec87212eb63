"""Independent clients against two real KMEs: the PyPI ``etsi-qkd-014-client`` and schemathesis's fuzzing.

etsi-qkd-014-client (LIP6, written against ETSI GS QKD 014 V1.1.1, uses ``requests``) parses our answers
with its own models of the spec's Status, Key container and Error objects. schemathesis generates requests
(valid and invalid) from the service's OpenAPI schema and sends them over mutual TLS: no answer may be a 5xx,
and every error must be the spec's Error object.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.kms.conftest import Network

client_module = pytest.importorskip("etsi_qkd_014_client")


def etsi_client(network: Network, sae: str, kme: Any) -> Any:
    return client_module.QKD014Client(
        f"127.0.0.1:{kme.port}", str(network.pki[sae].cert), str(network.pki[sae].key), str(network.pki.ca)
    )


def test_the_pypi_client_gets_status_and_matching_keys(network: Network) -> None:
    network.share_blocks(2)
    master, slave = etsi_client(network, "SAE_A1", network.a), etsi_client(network, "SAE_B1", network.b)
    code, status = master.get_status("SAE_B1")
    assert code == 200
    assert (status.source_kme_id, status.target_kme_id) == ("KME_A", "KME_B")
    assert (status.master_sae_id, status.slave_sae_id) == ("SAE_A1", "SAE_B1")
    assert status.key_size == 256 and status.max_sae_id_count == 0
    assert status.stored_key_count == 2 * 2048 // 32
    code, simple = master.get_key("SAE_B1")  # the client's GET form: one key of key_size
    assert code == 200 and len(simple.keys) == 1
    code, container = master.get_key("SAE_B1", number=4, size=128)  # its POST form
    assert code == 200 and len(container.keys) == 4
    sent = {k.key_id: k.key for k in [*simple.keys, *container.keys]}
    assert all(len(base64.b64decode(v)) in (16, 32) for v in sent.values())
    code, got = slave.get_key_with_key_IDs("SAE_A1", list(sent))
    assert code == 200
    assert {k.key_id: k.key for k in got.keys} == sent
    code, error = slave.get_key_with_key_IDs("SAE_A1", list(sent)[:1])
    assert code == 400 and error.message == "one or more keys specified are not found on KME"
    code, error = master.get_key("SAE_B1", size=100)
    assert code == 400 and error.message == "size shall be a multiple of 8"
    code, error = master.get_key("SAE_B1", extension_mandatory=[{"abc_route_type": "direct"}])
    assert code == 400 and error.message == "not all extension_mandatory parameters are supported"
    code, error = etsi_client(network, "SAE_A2", network.a).get_status("SAE_B1")
    assert code == 401 and error.message == "unauthorized"


def test_openapi_schema_fuzzed_gives_no_5xx(network: Network) -> None:
    import requests
    import schemathesis

    network.share_blocks(4)
    schema = schemathesis.openapi.from_dict(network.a.app.openapi())
    sessions = {}
    for sae, kme in (("SAE_A1", network.a), ("SAE_B1", network.b), ("SAE_A2", network.a)):
        session = requests.Session()
        session.cert = (str(network.pki[sae].cert), str(network.pki[sae].key))
        session.verify = str(network.pki.ca)
        sessions[sae] = (session, kme.url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/v1/keys/{slave_SAE_ID}/status",
        "/api/v1/keys/{slave_SAE_ID}/enc_keys",
        "/api/v1/keys/{master_SAE_ID}/dec_keys",
    }
    # Half of the path values name real SAEs, so the fuzzing reaches past the entitlement checks.
    names = st.sampled_from(["SAE_A1", "SAE_B1", "SAE_B2", "SAE_A2"]) | st.text(max_size=20)
    seen: dict[int, int] = {}
    unsatisfiable: list[str] = []
    from schemathesis import GenerationMode

    for op in operations:
        params = {name: names for name in ("slave_SAE_ID", "master_SAE_ID") if f"{{{name}}}" in op.path}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=20,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(mode), sae=st.sampled_from(sorted(sessions)), path=st.fixed_dictionaries(params))
            def fuzz(case: Any, sae: str, path: dict[str, str]) -> None:
                session, url = sessions[sae]
                if path:
                    case.path_parameters = {**(case.path_parameters or {}), **path}
                response = case.call(base_url=url, session=session, verify=session.verify, cert=session.cert)
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
                assert response.status_code < 500, (case.method, case.formatted_path, response.text)
                if response.status_code != 200:
                    body = response.json()
                    assert isinstance(body, dict) and isinstance(body.get("message"), str), body
                    assert set(body) <= {"message", "details"}, body

            try:
                fuzz()
            except Unsatisfiable:  # nothing invalid to make of, e.g., a lone string path parameter
                assert mode == GenerationMode.NEGATIVE
                unsatisfiable.append(f"{op.method} {op.path}")
    for session, _ in sessions.values():
        session.close()
    assert 200 in seen and 400 in seen and 401 in seen, seen  # the fuzzing reached every kind of answer
    assert len(unsatisfiable) < len(operations), unsatisfiable

"""The network KME's relay, in process: five KMEs of metro5 on real SQLite pools, hops delivered directly.

Each link's pools get identical blocks of random key (standing in for the node daemons); a neighbour's
``relay()`` is called as its HTTPS endpoint would call it, with the caller's ID. Faults are injected into
the hop between two KMEs: a neighbour that does not answer, a message altered or replayed on the way.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qkdnet.errors import KeyNotEntitled, KeyNotFound, KeyPoolError
from qkdnet.kms.api import ApiError
from qkdnet.kms.etsi import KeyRequest
from qkdnet.kms.keyid import direction_for, link_id_for
from qkdnet.kms.network_config import NetworkNodeConfig
from qkdnet.kms.network_kme import HopFailed, NetworkKmeService
from qkdnet.kms.pool import SqliteKeyPool
from qkdnet.kms.relay import HopMessage

NODES = "abcde"
METRO5 = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "a"), ("b", "d")]
BLOCK_BYTES = 8192


def kme(node: str) -> str:
    return f"KME_{node}"


class Direct:
    """A hop handed straight to the neighbour's service; ``meddle`` may change, record or drop it."""

    def __init__(self, sender: str, target: NetworkKmeService) -> None:
        self.sender, self.target = sender, target
        self.meddle: Callable[[HopMessage], HopMessage | None] | None = None
        self.sent: list[HopMessage] = []

    async def send(self, message: HopMessage, *, timeout_s: float) -> list[str]:
        wire = HopMessage.model_validate(message.model_dump())  # what crosses the wire
        self.sent.append(wire)
        if self.meddle is not None:
            changed = self.meddle(wire)
            if changed is None:
                raise HopFailed(f"{self.target.me} unreachable: ConnectError", unreachable=True)
            wire = changed
        try:
            answer = await self.target.relay(self.sender, wire)
        except ApiError as exc:
            raise HopFailed(f"{self.target.me} answered {exc.status}: {exc.message}", unreachable=False) from None
        return list(answer["path"])

    async def aclose(self) -> None:
        return None


#: metro5's end-to-end link: a and c share pairs made by entanglement swapping at b.
SWAPPED = ("a", "c")


def _config(
    node: str, tmp_path: Path, policy: str = "hops", links: list[tuple[str, str]] = METRO5
) -> NetworkNodeConfig:
    me = kme(node)
    neighbours = {kme(b if a == node else a): {"url": "https://127.0.0.1:1", "session": "unused.toml",
                                               "via": [kme("b")] if (a, b) == SWAPPED else []}
                  for a, b in links if node in (a, b)}  # fmt: skip
    return NetworkNodeConfig.model_validate(
        {
            "kme": {"id": me, "db": str(tmp_path / f"{node}.sqlite")},
            "api": {"cert": "unused.crt", "key": "unused.key", "ca": "unused.crt"},
            "network": {
                "relay": policy,
                "links": [(kme(a), kme(b)) for a, b in links],
                "saes": {f"SAE_{n}": kme(n) for n in NODES},
                "neighbours": neighbours,
                "relay_timeout_s": 5.0,
            },
        }
    )


class Metro5:
    def __init__(self, tmp_path: Path, *, blocks: int = 2, policy: str = "hops", swapped: bool = False) -> None:
        links = [*METRO5, SWAPPED] if swapped else METRO5
        self.pools = {n: SqliteKeyPool(tmp_path / f"{n}.sqlite") for n in NODES}
        for a, b in links:
            self.share(a, b, blocks)
        self.kmes = {n: NetworkKmeService(_config(n, tmp_path, policy, links), self.pools[n]) for n in NODES}
        self.hops: dict[tuple[str, str], Direct] = {}
        for a, b in links:
            for x, y in ((a, b), (b, a)):
                self.hops[x, y] = Direct(kme(x), self.kmes[y])
                self.kmes[x].clients[kme(y)] = self.hops[x, y]  # type: ignore[assignment]

    def share(self, a: str, b: str, blocks: int, first: int = 0) -> None:
        link = link_id_for(kme(a), kme(b))
        for block in range(first, first + blocks):
            key = os.urandom(BLOCK_BYTES)
            self.pools[a].commit_block(link_id=link, block_id=block, key=key)
            self.pools[b].commit_block(link_id=link, block_id=block, key=key)

    def drain(self, a: str, b: str) -> None:
        """Spend every byte ``a`` may send on the link to ``b``."""
        link = link_id_for(kme(a), kme(b))
        direction = direction_for(link, kme(a))
        while (left := self.pools[a].stored_key_count(link_id=link, direction=direction, size_bits=8)) > 0:
            size = min(left, 4096)
            self.pools[a].take_new_keys(
                link_id=link, direction=direction, master_sae="x", slave_sae="y", number=1, size_bits=8 * size
            )

    def enc(self, master: str, slave: str, number: int = 3, size: int = 256, route: str | None = None) -> dict:  # type: ignore[type-arg]
        extension = None if route is None else [{"qkdnet_route": route}]
        request = KeyRequest(number=number, size=size, extension_mandatory=extension)
        return asyncio.run(self.kmes[master].enc_keys(f"SAE_{master}", f"SAE_{slave}", request))

    def dec(self, slave: str, master: str, ids: list[str]) -> dict:  # type: ignore[type-arg]
        return asyncio.run(self.kmes[slave].dec_keys(f"SAE_{slave}", f"SAE_{master}", ids))

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Metro5]:
    network = Metro5(tmp_path)
    yield network
    network.close()


def _ids(container: dict) -> list[str]:  # type: ignore[type-arg]
    return [k["key_ID"] for k in container["keys"]]


def test_a_key_for_an_sae_two_hops_away_arrives_by_relay_identical_and_once(net: Metro5) -> None:
    sent = net.enc("a", "c", number=4)
    got = net.dec("c", "a", _ids(sent))
    assert [k["key"] for k in got["keys"]] == [k["key"] for k in sent["keys"]]
    assert len({k["key"] for k in sent["keys"]}) == 4
    assert net.kmes["a"].routes == {"KME_a>KME_b>KME_c": 4}
    assert net.kmes["b"].relayed_keys == 4  # the trusted node held them in the clear
    assert net.kmes["c"].routes == {"KME_a>KME_b>KME_c": 4}
    with pytest.raises(ApiError) as again:
        net.dec("c", "a", _ids(sent))
    assert again.value.status == 400  # delivered once, never twice


def test_each_hop_spends_its_own_link_key_the_first_hop_is_the_key(net: Metro5) -> None:
    before = {(a, b): _level(net, a, b) for a, b in [("a", "b"), ("b", "c")]}
    net.enc("a", "c", number=2, size=256)
    spent = {hop: before[hop] - _level(net, *hop) for hop in before}
    assert spent == {("a", "b"): 2 * 32 + 32, ("b", "c"): 2 * 32 + 32}  # keys (or pads) plus one tag key
    first = net.hops["a", "b"].sent[0]
    assert first.ciphertext is None  # b holds the same bytes: nothing of the key travels on the first hop
    assert net.hops["b", "c"].sent[0].ciphertext is not None


def _level(net: Metro5, a: str, b: str) -> int:
    link = link_id_for(kme(a), kme(b))
    return net.pools[a].stored_key_count(link_id=link, direction=direction_for(link, kme(a)), size_bits=8)


def test_a_direct_neighbour_is_a_path_of_one_hop(net: Metro5) -> None:
    sent = net.enc("a", "b", number=2)
    assert [k["key"] for k in net.dec("b", "a", _ids(sent))["keys"]] == [k["key"] for k in sent["keys"]]
    assert net.kmes["a"].routes == {"KME_a>KME_b": 2}


def test_a_dry_link_is_routed_around(net: Metro5) -> None:
    net.drain("a", "b")
    sent = net.enc("a", "c")
    assert [k["key"] for k in net.dec("c", "a", _ids(sent))["keys"]] == [k["key"] for k in sent["keys"]]
    assert list(net.kmes["a"].routes) == ["KME_a>KME_e>KME_d>KME_c"]


def test_a_neighbour_that_does_not_answer_is_routed_around_and_tried_last_for_a_while(net: Metro5) -> None:
    net.hops["a", "b"].meddle = lambda message: None  # b is down
    sent = net.enc("a", "c")
    assert [k["key"] for k in net.dec("c", "a", _ids(sent))["keys"]] == [k["key"] for k in sent["keys"]]
    assert list(net.kmes["a"].routes) == ["KME_a>KME_e>KME_d>KME_c"]
    tries = len(net.hops["a", "b"].sent)
    net.enc("a", "c")
    assert len(net.hops["a", "b"].sent) == tries  # failing: the next key went straight the other way


def test_no_route_with_key_is_a_503_with_the_reason_at_once(net: Metro5) -> None:
    net.drain("a", "b")
    net.drain("a", "e")
    with pytest.raises(ApiError) as refused:
        net.enc("a", "c")
    assert refused.value.status == 503 and "no route from KME_a to KME_c" in refused.value.message
    assert net.pools["c"].held_relayed_count() == 0


def test_a_relay_message_altered_on_the_way_is_refused_and_the_key_goes_another_way(
    net: Metro5, caplog: pytest.LogCaptureFixture
) -> None:
    def flip(message: HopMessage) -> HopMessage:
        return message.model_copy(update={"slave_sae": "SAE_d"})  # Eve redirects the key

    net.hops["b", "c"].meddle = flip
    sent = net.enc("a", "c")
    assert [k["key"] for k in net.dec("c", "a", _ids(sent))["keys"]] == [k["key"] for k in sent["keys"]]
    assert list(net.kmes["a"].routes) == ["KME_a>KME_b>KME_d>KME_c"]
    assert net.kmes["c"].refused == 1
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("relay refused")]
    assert len(refusals) == 1 and "tag does not check" in refusals[0]
    with pytest.raises(ApiError):  # nothing was held for SAE_d
        asyncio.run(net.kmes["d"].dec_keys("SAE_d", "SAE_a", _ids(sent)))


def test_a_replayed_relay_message_is_refused(net: Metro5, caplog: pytest.LogCaptureFixture) -> None:
    net.enc("a", "c")
    recorded = net.hops["b", "c"].sent[0]
    held = net.pools["c"].held_relayed_count()
    with pytest.raises(ApiError) as refused:
        asyncio.run(net.kmes["c"].relay("KME_b", recorded))
    assert refused.value.status == 400 and "spent before" in refused.value.message
    assert net.pools["c"].held_relayed_count() == held
    assert sum(r.getMessage().startswith("relay refused") for r in caplog.records) == 1


def test_a_forged_hop_from_a_real_neighbour_fails_its_tag(net: Metro5) -> None:
    """A neighbour's certificate is not enough: the tag is keyed by link key the forger does not have."""
    net.enc("a", "c")
    honest = net.hops["b", "c"].sent[0]
    link = link_id_for("KME_b", "KME_c")
    # Unspent positions further on in b's direction, with a tag made under a guessed key.
    block = honest.pad_positions[0][0]
    forged = honest.model_copy(
        update={
            "relay_id": str(uuid.uuid4()),
            "key_ids": [str(uuid.uuid4()) for _ in honest.key_ids],
            "pad_ids": [str(uuid.uuid4()) for _ in honest.pad_ids],
            "pad_positions": [(block, 2000 + 32 * i, 32) for i in range(len(honest.pad_ids))],
            "tag_key_id": str(uuid.uuid4()),
            "tag_key_position": (block, 3000, 32),
        }
    )
    with pytest.raises(ApiError) as refused:
        asyncio.run(net.kmes["c"].relay("KME_b", forged))
    assert refused.value.status == 400 and "tag does not check" in refused.value.message
    assert net.pools["c"].held_relayed_count() == 1 * len(honest.key_ids)  # only the honest relay's keys
    assert link in net.kmes["c"].link_ids.values()


def test_a_hop_from_a_kme_that_is_not_the_named_neighbour_is_unauthorized(net: Metro5) -> None:
    net.enc("a", "c")
    recorded = net.hops["b", "c"].sent[0]
    for caller in ("KME_a", "KME_d", "SAE_b"):
        with pytest.raises(ApiError) as refused:
            asyncio.run(net.kmes["c"].relay(caller, recorded))
        assert refused.value.status == 401


def test_saes_may_ask_only_their_own_kme_for_saes_elsewhere(net: Metro5) -> None:
    request = KeyRequest(number=1)
    for caller, slave in (("SAE_b", "SAE_c"), ("SAE_a", "SAE_a"), ("SAE_a", "SAE_z")):
        with pytest.raises(ApiError) as refused:
            asyncio.run(net.kmes["a"].enc_keys(caller, slave, request))
        assert refused.value.status == 401
    sent = net.enc("a", "c")
    with pytest.raises(ApiError) as other:  # another SAE's key looks like a key that does not exist
        asyncio.run(net.kmes["c"].dec_keys("SAE_c", "SAE_b", _ids(sent)))
    assert other.value.status == 400


def test_a_hop_waits_for_its_block_to_be_committed_at_the_receiver(tmp_path: Path) -> None:
    network = Metro5(tmp_path, blocks=0)
    try:
        link = link_id_for("KME_a", "KME_b")
        key = os.urandom(BLOCK_BYTES)
        network.pools["a"].commit_block(link_id=link, block_id=0, key=key)  # Alice commits first

        async def commit_b_later() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(network.pools["b"].commit_block, link_id=link, block_id=0, key=key)

        async def both() -> dict:  # type: ignore[type-arg]
            later = asyncio.create_task(commit_b_later())
            sent = await network.kmes["a"].enc_keys("SAE_a", "SAE_b", KeyRequest(number=1))
            await later
            return sent

        sent = asyncio.run(both())
        assert network.dec("b", "a", _ids(sent))["keys"][0]["key"] == sent["keys"][0]["key"]
    finally:
        network.close()


def test_status_reports_the_best_first_hop_and_its_key(net: Metro5) -> None:
    status = net.kmes["a"].status("SAE_a", "SAE_c")
    assert status["target_KME_ID"] == "KME_c"
    assert status["status_extension"]["first_hops"] == ["KME_b", "KME_e"]
    assert status["stored_key_count"] == (BLOCK_BYTES // 2 * 2 - 32) // 32


# ------------------------------------------------------------------------------------- the pool's table
def test_relayed_keys_are_held_for_their_pair_handed_out_once_and_zeroed(tmp_path: Path) -> None:
    key = os.urandom(32)
    key_id = uuid.uuid4()
    with SqliteKeyPool(tmp_path / "p.sqlite") as pool:
        pool.submit_hold_relayed(master_sae="SAE_a", slave_sae="SAE_c", keys=[(key_id, key)]).result()
        with pytest.raises(KeyNotEntitled):
            pool.submit_take_relayed(master_sae="SAE_b", slave_sae="SAE_c", key_ids=[key_id]).result()
        (got,) = pool.submit_take_relayed(master_sae="SAE_a", slave_sae="SAE_c", key_ids=[key_id]).result()
        assert got.key == key
        with pytest.raises(KeyNotFound):
            pool.submit_take_relayed(master_sae="SAE_a", slave_sae="SAE_c", key_ids=[key_id]).result()
        with pytest.raises(KeyPoolError, match="held here before"):  # never held (nor handed out) again
            pool.submit_hold_relayed(master_sae="SAE_a", slave_sae="SAE_c", keys=[(key_id, key)]).result()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("p.sqlite"))
    assert key not in on_disk


@pytest.fixture
def swapped(tmp_path: Path) -> Iterator[Metro5]:
    network = Metro5(tmp_path, swapped=True)
    yield network
    network.close()


def _b_levels(net: Metro5) -> list[int]:
    return [_level(net, "b", peer) for peer in "acd"] + [_level(net, peer, "b") for peer in "acd"]


def test_an_end_to_end_key_takes_the_swapped_link_and_the_repeater_never_sees_it(swapped: Metro5) -> None:
    before = _b_levels(swapped)
    sent = swapped.enc("a", "c", number=2, route="end-to-end")
    assert [k["key"] for k in swapped.dec("c", "a", _ids(sent))["keys"]] == [k["key"] for k in sent["keys"]]
    assert swapped.kmes["a"].routes == {"KME_a>KME_c": 2}
    assert not swapped.hops["a", "b"].sent and swapped.kmes["b"].relayed_keys == 0
    assert _b_levels(swapped) == before  # not a byte of b's link key moved


def test_without_a_route_asked_the_fewest_hops_win_so_the_swapped_link_beats_a_relay(swapped: Metro5) -> None:
    swapped.enc("a", "c", number=1)
    assert swapped.kmes["a"].routes == {"KME_a>KME_c": 1}


def test_a_relay_asked_for_never_starts_on_the_swapped_link(swapped: Metro5) -> None:
    sent = swapped.enc("a", "c", number=2, route="relay")
    assert [k["key"] for k in swapped.dec("c", "a", _ids(sent))["keys"]] == [k["key"] for k in sent["keys"]]
    assert swapped.kmes["a"].routes == {"KME_a>KME_b>KME_c": 2}
    assert swapped.kmes["b"].relayed_keys == 2


def test_an_end_to_end_key_never_falls_back_to_a_trusted_relay(swapped: Metro5) -> None:
    swapped.drain("a", "c")
    with pytest.raises(ApiError) as dry:
        swapped.enc("a", "c", route="end-to-end")
    assert dry.value.status == 503 and "no route" in dry.value.message
    with pytest.raises(ApiError) as unlinked:
        swapped.enc("a", "d", route="end-to-end")
    assert unlinked.value.status == 503 and "no link joins KME_a and KME_d" in unlinked.value.message
    assert not swapped.hops["a", "b"].sent and not swapped.hops["a", "e"].sent


@pytest.mark.parametrize(
    "extensions",
    [
        [{"qkdnet_route": "teleport"}],
        [{"qkdnet_route": "relay"}, {"qkdnet_route": "end-to-end"}],
        [{"qkdnet_route": ["relay"]}],
        [{"qkdnet_route": None}],
        [{"other": 1}],
    ],
)
def test_a_route_not_understood_is_a_400_before_any_key_is_spent(swapped: Metro5, extensions: list) -> None:  # type: ignore[type-arg]
    request = KeyRequest(number=1, size=256, extension_mandatory=extensions)
    before = _level(swapped, "a", "c"), _level(swapped, "a", "b")
    with pytest.raises(ApiError) as bad:
        asyncio.run(swapped.kmes["a"].enc_keys("SAE_a", "SAE_c", request))
    assert bad.value.status == 400
    assert (_level(swapped, "a", "c"), _level(swapped, "a", "b")) == before

"""The network simulator against closed forms: swapping, purification, waiting times, stored-pair decay, cutoffs.

Every expected value here comes from a formula written in the test (or from qkdnet.quantum's closed forms,
which have their own oracle tests), never from the simulator. Statistical checks use tolerances of several
standard errors of the sample at hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdnet.errors import InvalidParameter, RouteError
from qkdnet.hardware import AtomCavityNode, Fiber
from qkdnet.network import (
    IdealLink,
    Network,
    NetworkLink,
    NetworkNode,
    Policies,
    Request,
    link_from_preset,
    simulate,
)
from qkdnet.quantum import expected_max_geometric, werner_fidelity_after_wait
from qkdnet.units import PS_PER_S

PERFECT = AtomCavityNode.perfect("perfect")


def ideal(p: float = 0.2, v: float = 1.0, *, length_km: float = 0.0, rate_hz: float = 1e6) -> IdealLink:
    return IdealLink(herald_probability=p, visibility=v, attempt_rate_hz=rate_hz, fiber=Fiber(length_km, 0.2))


def werner_f(v: float) -> float:
    return (1.0 + 3.0 * v) / 4.0


def chain(links: list[IdealLink], hardware: AtomCavityNode = PERFECT, **node_kwargs: float) -> Network:
    n = len(links) + 1
    nodes = [NetworkNode(f"n{i}", 1 if i in (0, n - 1) else 2, hardware, **node_kwargs) for i in range(n)]
    return Network(nodes, [NetworkLink(f"n{i}", f"n{i + 1}", link) for i, link in enumerate(links)])


def test_swapped_werner_pairs_follow_briegel() -> None:
    # Briegel et al. 1998: F = F1 F2 + (1 − F1)(1 − F2)/3 for a swap of two Werner pairs.
    v1, v2 = 0.9, 0.8
    f1, f2 = werner_f(v1), werner_f(v2)
    net = chain([ideal(v=v1), ideal(v=v2)])
    run = simulate(net, [Request(("n0", "n2"), pairs=200)], seed=1)
    fid = run.outcomes[0].fidelities
    assert run.outcomes[0].delivered == 200
    np.testing.assert_allclose(fid, f1 * f2 + (1 - f1) * (1 - f2) / 3, rtol=0, atol=1e-12)


def test_noisy_bell_measurement_depolarizes_the_swapped_pair() -> None:
    # A Bell measurement right with probability f adds a depolarizing error of visibility (4f − 1)/3.
    v1, v2, f = 0.95, 0.9, 0.97
    net = chain([ideal(v=v1), ideal(v=v2)], swap_fidelity=f)
    run = simulate(net, [Request(("n0", "n2"), pairs=50)], seed=2)
    expected = werner_f(v1 * v2 * (4 * f - 1) / 3)
    np.testing.assert_allclose(run.outcomes[0].fidelities, expected, atol=1e-12)


def test_swap_efficiency_is_the_fraction_of_swaps_that_herald() -> None:
    eff = 0.6
    net = chain([ideal(), ideal()], swap_efficiency=eff)
    out = simulate(net, [Request(("n0", "n2"), pairs=3000)], seed=3).outcomes[0]
    attempts = out.delivered + out.swap_failures
    sigma = math.sqrt(eff * (1 - eff) / attempts)
    assert abs(out.delivered / attempts - eff) < 5 * sigma


def test_long_chain_multiplies_visibilities() -> None:
    vs = [0.99, 0.97, 0.95, 0.98, 0.96]
    net = chain([ideal(v=v) for v in vs])
    out = simulate(net, [Request(("n0", "n5"), pairs=30)], seed=4).outcomes[0]
    np.testing.assert_allclose(out.fidelities, werner_f(math.prod(vs)), atol=1e-12)


@pytest.mark.parametrize("scheme", ["bbpssw", "dejmps"])
def test_purification_matches_closed_forms(scheme: str) -> None:
    v = 0.7
    f = werner_f(v)
    e = (1 - f) / 3
    if scheme == "bbpssw":  # Bennett et al. 1996
        p_s = f * f + 2 * f * e + 5 * e * e
        f_out = (f * f + e * e) / p_s
    else:  # Deutsch et al. 1996 with (A, B, C, D) = (F, e, e, e)
        a, b, c, d = f, e, e, e
        p_s = (a + b) ** 2 + (c + d) ** 2
        f_out = (a * a + b * b) / p_s
    net = chain([ideal(v=v)], hardware=PERFECT)
    for node in ("n0", "n1"):
        net.nodes[node] = NetworkNode(node, 2, PERFECT)
    policies = Policies(purification_rounds=1, purification_scheme=scheme)  # type: ignore[arg-type]
    out = simulate(net, [Request(("n0", "n1"), pairs=4000)], policies, seed=5).outcomes[0]
    np.testing.assert_allclose(out.fidelities, f_out, atol=1e-12)
    rounds = out.delivered + out.purification_failures
    assert abs(out.delivered / rounds - p_s) < 5 * math.sqrt(p_s * (1 - p_s) / rounds)


def test_first_delivery_waits_for_the_slower_link() -> None:
    # Two links, deterministic swap, no fiber: the first pair arrives after max(K1, K2) attempts,
    # E[max] = 2/p − 1/(1 − (1 − p)²). Consecutive requests start afresh when the previous one ends.
    p, rate = 0.1, 1e6
    period_ps = round(PS_PER_S / rate)
    net = chain([ideal(p=p, rate_hz=rate), ideal(p=p, rate_hz=rate)])
    n = 4000
    run = simulate(net, [Request(("n0", "n2"), pairs=1) for _ in range(n)], seed=6)
    times = np.array([o.delivery_times_ps[0] for o in run.outcomes])
    starts = np.array([o.admitted_ps for o in run.outcomes])
    attempts = (times - starts) / period_ps + 1
    sem = attempts.std(ddof=1) / math.sqrt(n)
    assert abs(attempts.mean() - expected_max_geometric(p)) < 5 * sem


def test_fiber_delays_herald_messages_and_corrections() -> None:
    # With p = 1 every link heralds at its first attempt; the pair is known at both ends after the
    # herald crosses the fiber (τ) and the swap outcome reaches the far end (τ more).
    length = 20.0
    link = ideal(p=1.0, length_km=length)
    tau = Fiber(length, 0.2).delay_ps
    out = simulate(chain([link, link]), [Request(("n0", "n2"), pairs=1)], seed=7).outcomes[0]
    assert out.delivery_times_ps.tolist() == [2 * tau]


def test_stored_pair_dephases_for_its_wait() -> None:
    # One link over L km: each qubit is held τ (emission to herald at both ends) in a memory with T2.
    t2 = 2e-4
    node = AtomCavityNode("m", photon_generation_efficiency=1.0, atom_photon_fidelity=1.0, t2_s=t2)
    length = 10.0
    tau_s = Fiber(length, 0.2).delay_s
    v = 0.95
    net = chain([ideal(v=v, length_km=length)], hardware=node)
    out = simulate(net, [Request(("n0", "n1"), pairs=100)], seed=8).outcomes[0]
    expected = werner_fidelity_after_wait(werner_f(v), wait_s=tau_s, t2_s=t2, memories=2)
    np.testing.assert_allclose(out.fidelities, expected, rtol=1e-6)


def test_cutoff_discards_pairs_older_than_the_cutoff() -> None:
    t2 = 1e-5
    node = AtomCavityNode("m", photon_generation_efficiency=1.0, atom_photon_fidelity=1.0, t2_s=t2)
    cutoff = 2e-5
    slow = ideal(p=0.01, rate_hz=1e6)
    net = chain([slow, slow], hardware=node)
    request = [Request(("n0", "n2"), pairs=300)]
    free = simulate(net, request, seed=9).outcomes[0]
    cut = simulate(net, request, Policies(cutoff_s=cutoff), seed=9).outcomes[0]
    # Without a cutoff some pairs waited far longer than the cutoff; with it, no qubit waited longer, so
    # every delivered pair is at least as good as one whose two qubits both dephased for the cutoff.
    floor = werner_fidelity_after_wait(1.0, wait_s=cutoff, t2_s=t2, memories=2)
    assert cut.discarded_cutoff > 0 and free.discarded_cutoff == 0
    assert cut.fidelities.min() >= floor - 1e-12
    assert free.fidelities.min() < floor


def test_a_cutoff_shorter_than_the_herald_discards_everything() -> None:
    link = ideal(p=0.5, length_km=10.0)  # each qubit waits τ ≈ 49 µs before its herald arrives
    out = simulate(
        chain([link]), [Request(("n0", "n1"), pairs=5, deadline_s=0.01)], Policies(cutoff_s=1e-5), seed=10
    ).outcomes[0]
    assert out.delivered == 0 and out.status == "deadline"
    assert out.discarded_cutoff == out.link_heralds > 0


def test_pairs_below_the_fidelity_target_are_discarded_not_fatal() -> None:
    net = chain([ideal(v=0.5), ideal(v=0.5)])
    out = simulate(net, [Request(("n0", "n2"), pairs=5, min_fidelity=0.9, deadline_s=0.001)], seed=11).outcomes[0]
    assert out.delivered == 0 and out.discarded_fidelity > 0 and out.status == "deadline"


def test_single_link_rate_matches_the_link() -> None:
    link = link_from_preset("ritter2012")
    node = link.emitter  # type: ignore[attr-defined]
    net = Network([NetworkNode("a", 1, node), NetworkNode("b", 1, node)], [NetworkLink("a", "b", link)])
    out = simulate(net, [Request(("a", "b"), pairs=20_000)], seed=12).outcomes[0]
    mean_gap_s = out.served_s / out.delivered
    # Exponential-ish gaps: relative standard error about 1/sqrt(n).
    assert abs(mean_gap_s * link.expected_pair_rate_hz - 1.0) < 5 / math.sqrt(out.delivered)
    assert abs(out.fidelities.mean() - link.expected_fidelity) < 1e-3


def _diamond(fast_long: bool) -> Network:
    # a - b - d is short but slow; a - c - d is long but fast.
    slow, fast = ideal(p=1e-4, length_km=1.0), ideal(p=0.5, length_km=3.0)
    nodes = [NetworkNode(n, 2, PERFECT) for n in "abcd"]
    links = [NetworkLink("a", "b", slow), NetworkLink("b", "d", slow), NetworkLink("a", "c", fast)]
    links.append(NetworkLink("c", "d", fast if fast_long else slow))
    return Network(nodes, links)


def test_routing_by_length_and_by_rate() -> None:
    net = _diamond(fast_long=True)
    assert net.route("a", "d", metric="length") == ("a", "b", "d")
    assert net.route("a", "d", metric="rate") == ("a", "c", "d")


def test_routing_rejects_and_the_rest_still_runs() -> None:
    net = _diamond(fast_long=True)
    net_with_island = Network([*net.nodes.values(), NetworkNode("island", 1, PERFECT)], net.links)
    requests = [
        Request(("a", "island"), pairs=1),
        Request(("a", "d"), pairs=3, route=("a", "b", "a", "c", "d")),
        Request(("a", "d"), pairs=3, route=("a", "d")),
        Request(("a", "d"), pairs=3),
    ]
    run = simulate(net_with_island, requests, Policies(routing_metric="rate"), seed=13)
    statuses = [o.status for o in run.outcomes]
    assert statuses == ["rejected", "rejected", "rejected", "completed"]
    reasons = [o.reason or "" for o in run.outcomes]
    assert "no chain of working links" in reasons[0]
    assert "cycle" in reasons[1]
    assert "no link between 'a' and 'd'" in reasons[2]


def test_a_node_without_memories_is_rejected() -> None:
    nodes = [NetworkNode("a", 1, PERFECT), NetworkNode("b", 0, PERFECT)]
    net = Network(nodes, [NetworkLink("a", "b", ideal())])
    out = simulate(net, [Request(("a", "b"), pairs=1)], seed=14).outcomes[0]
    assert out.status == "rejected" and "has 0 memories" in (out.reason or "")


def test_memories_are_a_hard_limit() -> None:
    # Two requests through a repeater with two memories: the second waits until the first is done.
    net = chain([ideal(), ideal()])
    run = simulate(net, [Request(("n0", "n2"), pairs=50), Request(("n0", "n2"), pairs=50)], seed=15)
    first, second = run.outcomes
    assert second.admitted_ps is not None and first.finished_ps is not None
    assert second.admitted_ps >= first.finished_ps
    assert run.peak_memories == {"n0": 1, "n1": 2, "n2": 1}


def test_same_seed_same_run() -> None:
    net = chain([ideal(p=0.05), ideal(p=0.05), ideal(p=0.05)])
    requests = [Request(("n0", "n3"), pairs=20)]
    a = simulate(net, requests, Policies(cutoff_s=1e-5), seed=16).outcomes[0]
    b = simulate(net, requests, Policies(cutoff_s=1e-5), seed=16).outcomes[0]
    np.testing.assert_array_equal(a.delivery_times_ps, b.delivery_times_ps)
    np.testing.assert_array_equal(a.states.weights, b.states.weights)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(InvalidParameter, match="exactly one of pairs or key_bits"):
        Request(("a", "b"))
    with pytest.raises(InvalidParameter, match="cutoff_s"):
        Policies(cutoff_s=-1.0)
    with pytest.raises(InvalidParameter, match="routing metric"):
        _diamond(True).route("a", "d", metric="fastest")  # type: ignore[arg-type]


# ---- the shortcuts against the event-by-event reference path --------------------------------------------
# A link fast enough that an 8-node chain runs in milliseconds, memories whose T2 makes every fidelity depend
# on how long its qubits waited (so the fidelity distribution tests the timing too).
_T2_NODE = AtomCavityNode("m", photon_generation_efficiency=1.0, atom_photon_fidelity=1.0, t2_s=1e-4)
_FAST_LINK = ideal(p=0.3, v=0.98, length_km=1.0, rate_hz=1e6)
#: Per-test false-alarm probability of a two-sample KS check; the runs are seeded, so this is fixed once.
_KS_ALPHA = 1e-4


def _ks_critical(n: int, m: int) -> float:
    """Asymptotic two-sample KS critical distance at level _KS_ALPHA (Smirnov): c(α) √((n + m) / (n m))."""
    c = math.sqrt(-0.5 * math.log(_KS_ALPHA / 2))
    return c * math.sqrt((n + m) / (n * m))


def _ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest gap between the two empirical distribution functions (written here, not taken from the code)."""
    grid = np.union1d(a, b)
    fa = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def _case(name: str, n_nodes: int) -> tuple[Network, Policies]:
    swap_efficiency = 0.7 if name == "swap failures" else 1.0
    nodes = [NetworkNode(f"n{i}", 2, _T2_NODE, swap_efficiency=swap_efficiency) for i in range(n_nodes)]
    net = Network(nodes, [NetworkLink(f"n{i}", f"n{i + 1}", _FAST_LINK) for i in range(n_nodes - 1)])
    policies = {
        "plain": Policies(),
        "cutoff": Policies(cutoff_s=3e-5 * (n_nodes - 1)),
        "purification": Policies(purification_rounds=1),
        "swap failures": Policies(),
    }[name]
    return net, policies


#: Where a shortcut applies: single links without purification (bulk renewal), chains without cutoffs,
#: swap failures or purification (max-plus recursion). Elsewhere both paths must be the same code.
_SHORTCUT = {"plain", "cutoff@2", "swap failures@2"}
_CASES = [(name, n) for name in ("plain", "cutoff", "purification", "swap failures") for n in range(2, 9)]


@pytest.mark.parametrize(("name", "n_nodes"), _CASES)
def test_shortcuts_match_the_event_by_event_protocol(name: str, n_nodes: int) -> None:
    # Two independent seeded runs, shortcuts on and off: inter-delivery times and delivered fidelities must
    # be one distribution (two-sample KS, critical distance from the two sample sizes), and so must the
    # counts of heralds and losses per delivered pair.
    shortcut = name in _SHORTCUT or f"{name}@{n_nodes}" in _SHORTCUT
    pairs = 2000 if shortcut else 300
    net, policies = _case(name, n_nodes)
    request = [Request(("n0", f"n{n_nodes - 1}"), pairs=pairs)]
    fast_run = simulate(net, request, policies, seed=21)
    slow_run = simulate(net, request, policies, seed=22, event_by_event=True)
    fast, slow = fast_run.outcomes[0], slow_run.outcomes[0]
    assert fast.delivered == slow.delivered == pairs
    if shortcut:  # the two really differ in work before their statistics are compared
        assert fast_run.events < slow_run.events / 2
    else:  # no shortcut: the flag must change nothing at all, bit for bit, for the same seed
        same = simulate(net, request, policies, seed=21, event_by_event=True)
        assert same.events == fast_run.events
        np.testing.assert_array_equal(same.outcomes[0].delivery_times_ps, fast.delivery_times_ps)
        np.testing.assert_array_equal(same.outcomes[0].states.weights, fast.states.weights)
    # Fidelities take a few discrete values (waits are whole attempt periods); the two paths multiply the same
    # factors in another order, so compare them to 1e-9 lest rounding split one value into two.
    for a, b in (
        (np.diff(fast.delivery_times_ps), np.diff(slow.delivery_times_ps)),
        (fast.fidelities.round(9), slow.fidelities.round(9)),
    ):
        assert _ks_distance(a, b) < _ks_critical(len(a), len(b))
    for count in ("link_heralds", "swap_failures", "purification_failures", "discarded_cutoff"):
        x, y = getattr(fast, count), getattr(slow, count)
        assert abs(x - y) <= 5 * math.sqrt(x + y) + 1, count  # Poisson-like counts, 5 σ


@pytest.mark.parametrize("n_nodes", [2, 3, 8])
def test_event_by_event_changes_the_number_of_engine_events(n_nodes: int) -> None:
    # Shortcuts: one event at completion (a single link in bulk) or one per delivery (the recursion); the
    # reference path: at least one per herald, L heralds per delivered pair on an L-link chain.
    net, policies = _case("plain", n_nodes)
    request = [Request(("n0", f"n{n_nodes - 1}"), pairs=500)]
    fast = simulate(net, request, policies, seed=5)
    slow = simulate(net, request, policies, seed=5, event_by_event=True)
    assert fast.events <= 501
    assert slow.events >= 500 * (n_nodes - 1)
    assert slow.outcomes[0].link_heralds >= 500 * (n_nodes - 1)


def test_a_forced_route_over_a_dead_link_waits_for_its_deadline() -> None:
    net = chain([ideal(), ideal(p=0.0)])
    assert net.graph.edges["n1", "n2"]["length"] == math.inf  # never routed over by choice
    out = simulate(net, [Request(("n0", "n2"), pairs=1, route=("n0", "n1", "n2"), deadline_s=1e-3)], seed=30)
    assert out.outcomes[0].status == "deadline" and out.outcomes[0].delivered == 0
    with pytest.raises(RouteError, match="no chain of working links"):
        net.route("n0", "n2")


def test_a_request_is_not_admitted_at_the_instant_it_expires() -> None:
    net = chain([ideal(v=0.5)])
    hopeless = Request(("n0", "n1"), pairs=1, min_fidelity=0.99, deadline_s=1e-3)
    run = simulate(net, [hopeless, hopeless], seed=31)
    first, second = run.outcomes
    assert first.admitted_ps == 0 and first.status == "deadline"
    assert second.admitted_ps is None and "never admitted" in (second.reason or "")


def _slow_pair(mean_gap_s: float) -> tuple[Network, float]:
    """Two nodes over a link that heralds once per ``mean_gap_s`` on average (its success odds are tiny)."""
    rate_hz = 1e6
    link = ideal(p=1.0 / (mean_gap_s * rate_hz), rate_hz=rate_hz)
    return chain([link]), 1.0 / link.expected_pair_rate_hz


def test_a_link_slower_than_the_float_clock_keeps_exact_statistics() -> None:
    """Gaps of ~5 days event by event, near the engine's 53-day limit: exact, not rounded or capped."""
    net, mean_s = _slow_pair(4e5)
    horizon_s = 50 * 86400.0
    runs = 30
    total = sum(
        simulate(net, [Request(("n0", "n1"), pairs=10**6)], Policies(horizon_s=horizon_s), seed=s, event_by_event=True)
        .outcomes[0]
        .delivered
        for s in range(runs)
    )
    # The herald count of a renewal process with exponential-like gaps: Poisson, standard error sqrt(mean).
    expected = runs * horizon_s / mean_s
    assert abs(total - expected) < 5 * math.sqrt(expected)


def test_run_times_beyond_the_engine_clock_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="beyond the network engine's clock"):
        Policies(horizon_s=100 * 86400.0)
    with pytest.raises(InvalidParameter, match=r"Request\.deadline_s"):
        Request(("n0", "n1"), pairs=1, deadline_s=1e7)


def test_the_bulk_path_over_a_slow_link_stops_at_its_horizon() -> None:
    """Horizons inside 26 days take the bulk path; a slow link's draws near int64 must not wrap around."""
    net, mean_s = _slow_pair(5e6)
    horizon_s = 20 * 86400.0
    runs = 300
    total = sum(
        simulate(net, [Request(("n0", "n1"), pairs=10**6)], Policies(horizon_s=horizon_s), seed=s).outcomes[0].delivered
        for s in range(runs)
    )
    expected = runs * horizon_s / mean_s
    assert abs(total - expected) < 5 * math.sqrt(expected)

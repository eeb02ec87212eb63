"""One admitted request on its route: links herald, repeaters swap, ends purify and take delivery, in engine time.

Positions 0..L along the route; link k joins positions k and k + 1 and fills one memory slot at each
(node k's "right" slot, node k + 1's "left" slot). The protocol, on the engine's clock:

* **Heralding.** A link whose two slots are free restarts: its next attempt is at max(now, last attempt +
  period); it succeeds after a geometric number of attempts (one draw, never one event per attempt), and
  the herald reaches both nodes ``ready_ps`` after the successful attempt. That arrival is one event. Each
  qubit has been stored since its emission (``ready_ps`` minus the scheme's wait offsets).
* **Swapping** (as soon as possible). When a repeater holds a pair on each side it measures them in the
  Bell basis at once: success with the node's ``swap_efficiency`` (a failure loses both pairs), an error of
  the node's ``swap_fidelity``; both local qubits decohere for their actual storage time. The outcome
  travels over the route's fiber to both end nodes; an end-to-end pair is usable only when every
  correction has arrived.
* **Cutoff.** A pair is discarded as soon as one of its qubits has been stored ``cutoff_s``.
* **Delivery.** The end nodes' qubits decohere for their storage time, then are read out; a pair below the
  request's fidelity target is discarded. With purification, the ends keep one pair and pump it with
  fresh ones (BBPSSW or DEJMPS): success with the map's probability, known after the parity bits cross the
  route (one fiber delay, both ends sending at once); a failure loses the kept pair.

States are λ triples (:mod:`qkdnet.network._pauli`), so a swap is three multiplications. Two shortcuts
compute exactly this protocol with fewer events (``force_events`` turns them off; the tests compare them
with the event-by-event path): a single-link route without purification is a renewal process, drawn and
delivered in blocks with one event at completion (:meth:`Session.start_bulk`); a route without cutoffs,
swap failures or purification follows the swap-asap max-plus recursion, one event per delivered pair
(:meth:`Session.start_rounds`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qkdnet.engine import Environment, Event
from qkdnet.network import _pauli
from qkdnet.network._draws import HeraldDraws
from qkdnet.network._pauli import Lam
from qkdnet.network._sampling import INT64_SAFE, HeraldClass
from qkdnet.network.outcomes import LinkLedger, RequestOutcome
from qkdnet.network.requests import Policies, Request
from qkdnet.network.topology import NetworkLink, NetworkNode
from qkdnet.quantum import BellDiagonal, purify
from qkdnet.units import PS_PER_S, binary_entropy

MemoryFn = Callable[[float], tuple[float, float, float]]
#: The deadline of a pair when no cutoff applies.
NEVER = 1 << 62
_BULK_BLOCK = 1 << 12
_MAX_BULK_BLOCK = 1 << 20


class Segment:
    """An entangled pair between route positions ``left`` and ``right`` (a link pair or a swapped one)."""

    __slots__ = ("alive", "corr_ps", "deadline_ps", "lam", "left", "right", "rounds", "t_left", "t_right")

    def __init__(
        self, left: int, right: int, lam: Lam, t_left: int, t_right: int, corr_ps: int, deadline_ps: int
    ) -> None:
        self.left = left
        self.right = right
        self.lam = lam
        self.t_left = t_left
        self.t_right = t_right
        self.corr_ps = corr_ps
        self.deadline_ps = deadline_ps
        self.alive = True
        self.rounds = 0


@dataclass(frozen=True, slots=True)
class LinkModel:
    """What the protocol needs of a link, computed once per run: timing, herald classes as λ's, fiber delay."""

    name: str
    period_ps: int
    ready_ps: int
    wait_a_ps: int
    wait_b_ps: int
    classes: list[HeraldClass]
    class_lams: list[Lam]
    delay_ps: int

    @classmethod
    def of(cls, link: NetworkLink) -> LinkModel:
        timing = link.physics._timing()
        classes = link.physics._classes()
        return cls(
            name=link.name,
            period_ps=timing.period_ps,
            ready_ps=timing.ready_ps,
            wait_a_ps=timing.wait_a_ps,
            wait_b_ps=timing.wait_b_ps,
            classes=classes,
            class_lams=[_pauli.lam_of_weights(c.weights.tolist()) for c in classes],
            delay_ps=link.physics.fiber.delay_ps,
        )


@dataclass(frozen=True, slots=True)
class NodeModel:
    """What the protocol needs of a node: its memory as a fast function, readout and Bell-measurement λ's."""

    memory: MemoryFn
    readout: Lam
    bsm: Lam
    swap_efficiency: float

    @classmethod
    def of(cls, node: NetworkNode) -> NodeModel:
        memory = node.hardware.memory
        ro = memory.readout_lambdas
        return cls(
            memory=memory.lambdas_function(),
            readout=(float(ro[0]), float(ro[1]), float(ro[2])),
            bsm=_pauli.bell_measurement_lam(node.swap_fidelity),
            swap_efficiency=node.swap_efficiency,
        )


class Session:
    """The protocol of one request on one route (see the module docstring)."""

    def __init__(
        self,
        env: Environment,
        request: Request,
        route: tuple[str, ...],
        nodes: list[NodeModel],
        links: list[tuple[LinkModel, bool]],
        policies: Policies,
        rng: np.random.Generator,
        outcome: RequestOutcome,
        ledgers: list[LinkLedger],
        on_finish: Callable[[Session, str], None],
        *,
        force_events: bool = False,
    ) -> None:
        self.env = env
        self.request = request
        self.route = route
        self.outcome = outcome
        self.ledgers = ledgers
        self.rng = rng
        self.on_finish = on_finish
        self.active = False
        self.L = L = len(links)
        self.min_fidelity = request.min_fidelity
        self.cutoff_ps = None if policies.cutoff_s is None else round(policies.cutoff_s * PS_PER_S)
        self.rounds = policies.purification_rounds
        self.scheme = policies.purification_scheme
        self.target_pairs = request.pairs
        self.target_key_bits = request.key_bits

        self.period = [m.period_ps for m, _ in links]
        self.ready = [m.ready_ps for m, _ in links]
        self.wait_left = [m.wait_a_ps if forward else m.wait_b_ps for m, forward in links]
        self.wait_right = [m.wait_b_ps if forward else m.wait_a_ps for m, forward in links]
        self.class_lams = [m.class_lams for m, _ in links]
        self.draws = [HeraldDraws(m.classes, m.period_ps, rng) for m, _ in links]
        # Fiber delay from each position to the farther end: when its swap outcome is known at both ends.
        before = [0]
        for m, _ in links:
            before.append(before[-1] + m.delay_ps)
        total = before[-1]
        self.path_delay_ps = total
        self.corr_delay = [max(b, total - b) for b in before]
        self.memory = [n.memory for n in nodes]
        self.bsm = [n.bsm for n in nodes]
        self.swap_efficiency = [n.swap_efficiency for n in nodes]
        ro0, roL = nodes[0].readout, nodes[-1].readout
        self.readout: Lam = (ro0[0] * roL[0], ro0[1] * roL[1], ro0[2] * roL[2])

        self.attempting = [False] * L
        #: No cutoff, certain swaps, no purification: nothing happens between deliveries that the
        #: max-plus recursion of :meth:`start_rounds` does not know in advance.
        self.dead = [d.success_probability == 0.0 for d in self.draws]
        self.recursive = (
            self.cutoff_ps is None
            and self.rounds == 0
            and all(e == 1.0 for e in self.swap_efficiency)
            and not any(self.dead)
        )
        self.force_events = force_events
        self.since = [0] * L
        self.last_attempt = [-(10**18)] * L
        self.seg_right: list[Segment | None] = [None] * (L + 1)
        self.seg_left: list[Segment | None] = [None] * (L + 1)
        self.kept: Segment | None = None
        self.kept_busy = False
        self.waiting: Segment | None = None
        # Running sums for key requests (Q_Z, Q_X of the delivered pairs).
        self.sum_qz = 0.0
        self.sum_qx = 0.0

    # ---- scheduling helpers -------------------------------------------------------------------------
    def _at(self, t_ps: int, callback: Callable[[Event], None], payload: Any) -> None:
        self.env.call_at(t_ps, callback, payload)

    # ---- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Admitted now: every link of the route starts attempting."""
        self.active = True
        self.outcome.admitted_ps = self.env.now
        # The bulk path counts in int64: it serves stops inside 2⁶¹ ps (26 days); later ones go event by event.
        if self.L == 1 and self.rounds == 0 and not self.force_events and self.outcome.stop_ps <= INT64_SAFE / 2:
            self.start_bulk()
            return
        if self.recursive and not self.force_events:
            self.start_rounds()
            return
        for k in range(self.L):
            self._restart(k)

    def stop(self, status: str) -> None:
        """Stop at once (done, deadline or the end of the run): close the books on links still attempting."""
        if not self.active:
            return
        self.active = False
        now = self.env.now
        for k in range(self.L):
            if self.attempting[k]:
                self.ledgers[k].attempted(self.since[k], now)
        self.outcome.finished_ps = now
        self.on_finish(self, status)

    # ---- links ----------------------------------------------------------------------------------------
    def _restart(self, k: int) -> None:
        if (
            self.attempting[k]
            or self.seg_right[k] is not None
            or self.seg_left[k + 1] is not None
            or not self.active
            or self.dead[k]
        ):
            return
        now = self.env.now
        extra, kind = self.draws[k].next()
        t0 = max(now, self.last_attempt[k] + self.period[k]) + extra
        self.last_attempt[k] = t0
        self.attempting[k] = True
        self.since[k] = now
        self.env.call_at(t0 + self.ready[k], self._herald, (k, kind))

    def _herald(self, event: Event) -> None:
        if not self.active:
            return
        k, kind = event.value
        now = self.env.now
        self.attempting[k] = False
        out = self.outcome
        out.link_heralds += 1
        self.ledgers[k].herald(self.since[k], now)
        t_left = now - self.wait_left[k]
        t_right = now - self.wait_right[k]
        deadline = NEVER if self.cutoff_ps is None else min(t_left, t_right) + self.cutoff_ps
        seg: Segment | None = Segment(k, k + 1, self.class_lams[k][kind], t_left, t_right, now, deadline)
        if now >= deadline:  # stale before the herald even arrived
            out.discarded_cutoff += 1
            out.storage_ps += 2 * now - t_left - t_right
            self._restart(k)
            return
        self.seg_right[k] = seg
        self.seg_left[k + 1] = seg
        if k > 0 and self.seg_left[k] is not None:
            seg = self._swap(k)
        if seg is not None and seg.right < self.L and self.seg_right[seg.right] is not None:
            seg = self._swap(seg.right)
        if seg is None:
            return
        if seg.left == 0 and seg.right == self.L:
            if seg.corr_ps > now:
                self._at(seg.corr_ps, self._deliver_event, seg)
            else:
                self._deliver(seg)
            if not seg.alive:
                return
        if self.cutoff_ps is not None:
            self._at(max(seg.deadline_ps, now), self._cutoff, seg)

    def _swap(self, k: int) -> Segment | None:
        """Bell measurement at position k on the pairs to its left and right; the longer pair, or None."""
        a = self.seg_left[k]
        b = self.seg_right[k]
        assert a is not None and b is not None  # noqa: S101 - callers check
        now = self.env.now
        a.alive = b.alive = False
        self.seg_left[k] = self.seg_right[k] = None
        mem = self.memory[k]
        out = self.outcome
        out.storage_ps += 2 * now - a.t_right - b.t_left
        i, j = a.left, b.right
        eff = self.swap_efficiency[k]
        if eff < 1.0 and self.rng.random() >= eff:
            out.swap_failures += 1
            self.seg_right[i] = None
            self.seg_left[j] = None
            out.storage_ps += 2 * now - a.t_left - b.t_right
            for link in (k - 1, k, i, j - 1):
                self._restart(link)
            return None
        ma = mem((now - a.t_right) * 1e-12)
        mb = mem((now - b.t_left) * 1e-12)
        la, lb, lm = a.lam, b.lam, self.bsm[k]
        lam = (
            la[0] * lb[0] * ma[0] * mb[0] * lm[0],
            la[1] * lb[1] * ma[1] * mb[1] * lm[1],
            la[2] * lb[2] * ma[2] * mb[2] * lm[2],
        )
        deadline = NEVER if self.cutoff_ps is None else min(a.t_left, b.t_right) + self.cutoff_ps
        corr = max(a.corr_ps, b.corr_ps, now + self.corr_delay[k])
        seg = Segment(i, j, lam, a.t_left, b.t_right, corr, deadline)
        self.seg_right[i] = seg
        self.seg_left[j] = seg
        self._restart(k - 1)
        self._restart(k)
        return seg

    def _cutoff(self, event: Event) -> None:
        seg: Segment = event.value
        if not seg.alive or not self.active:
            return
        now = self.env.now
        seg.alive = False
        self.outcome.discarded_cutoff += 1
        self.outcome.storage_ps += 2 * now - seg.t_left - seg.t_right
        if seg is self.kept:
            self.kept = None
            self._take_waiting()
            return
        if seg is self.waiting:
            self.waiting = None
        self._release(seg)

    def _release(self, seg: Segment) -> None:
        """Free the end slots of a pair that sat on the route, and restart their links."""
        self.seg_right[seg.left] = None
        self.seg_left[seg.right] = None
        self._restart(seg.left)
        self._restart(seg.right - 1)

    # ---- end nodes ------------------------------------------------------------------------------------
    def _end_lam(self, seg: Segment) -> Lam:
        """The pair's λ with both end qubits decohered for their storage until now."""
        now = self.env.now
        m0 = self.memory[0]((now - seg.t_left) * 1e-12)
        mL = self.memory[self.L]((now - seg.t_right) * 1e-12)
        lam = seg.lam
        return (lam[0] * m0[0] * mL[0], lam[1] * m0[1] * mL[1], lam[2] * m0[2] * mL[2])

    def _deliver_event(self, event: Event) -> None:
        seg: Segment = event.value
        if seg.alive and self.active:
            self._deliver(seg)

    def _deliver(self, seg: Segment) -> None:
        """An end-to-end pair whose corrections have all arrived."""
        if self.rounds == 0:
            self._final(seg)
            self._release(seg)
        elif self.kept is None:
            self.kept = seg
            self._release(seg)  # moved to the ends' storage qubits: the route's slots are free again
        elif self.kept_busy:
            self.waiting = seg
        else:
            self._purify(self.kept, seg)

    def _final(self, seg: Segment) -> None:
        """Read out both ends: record the pair, or discard it below the fidelity target."""
        now = self.env.now
        lam = self._end_lam(seg)
        ro = self.readout
        lam = (lam[0] * ro[0], lam[1] * ro[1], lam[2] * ro[2])
        seg.alive = False
        out = self.outcome
        out.storage_ps += 2 * now - seg.t_left - seg.t_right
        f = _pauli.fidelity(lam)
        if f < self.min_fidelity:
            out.discarded_fidelity += 1
            return
        out.delivery_ps.append(now)
        out.lams.append(lam)
        self.sum_qz += (1.0 - lam[2]) / 2.0
        self.sum_qx += (1.0 - lam[0]) / 2.0
        if self._done(len(out.delivery_ps)):
            self.stop("completed")

    def _done(self, n: int) -> bool:
        if self.target_pairs is not None:
            return n >= self.target_pairs
        assert self.target_key_bits is not None  # noqa: S101 - one of the two is set
        return key_bits_estimate(n, self.sum_qz / n, self.sum_qx / n) >= self.target_key_bits

    def _purify(self, kept: Segment, fresh: Segment) -> None:
        now = self.env.now
        first = BellDiagonal._unchecked(np.array(_pauli.weights_of_lam(self._end_lam(kept))))
        second = BellDiagonal._unchecked(np.array(_pauli.weights_of_lam(self._end_lam(fresh))))
        result = purify(first, second, scheme=self.scheme)
        p = float(result.success_probability)
        fresh.alive = False
        self.outcome.storage_ps += 2 * now - fresh.t_left - fresh.t_right
        self._release(fresh)  # the sacrificed pair is measured now
        ok = self.rng.random() < p
        self.kept_busy = True
        self._at(
            now + self.path_delay_ps, self._purified, (kept, ok, _pauli.lam_of_weights(result.states.weights.tolist()))
        )

    def _purified(self, event: Event) -> None:
        kept: Segment = event.value[0]
        ok: bool = event.value[1]
        lam: Lam = event.value[2]
        self.kept_busy = False
        if not self.active or kept is not self.kept or not kept.alive:
            self._take_waiting()
            return
        now = self.env.now
        if not ok:
            self.outcome.purification_failures += 1
            kept.alive = False
            self.outcome.storage_ps += 2 * now - kept.t_left - kept.t_right
            self.kept = None
        else:
            # The purified state holds the storage noise so far; the memories' clock starts again now.
            self.outcome.storage_ps += 2 * now - kept.t_left - kept.t_right
            kept.lam = lam
            kept.t_left = kept.t_right = now
            kept.rounds += 1
            if kept.rounds == self.rounds:
                self.kept = None
                self._final(kept)
                if not self.active:
                    return
        self._take_waiting()

    def _take_waiting(self) -> None:
        seg, self.waiting = self.waiting, None
        if seg is not None and seg.alive and self.active:
            self._deliver(seg)

    # ---- a single link, in bulk -------------------------------------------------------------------------
    def start_bulk(self) -> None:
        """One link, no purification: pairs are consumed on arrival, so the heralds are a renewal process.

        Draw them in blocks until the target or the stop time, record every delivery, and schedule one event:
        the completion (or nothing, and the deadline stops the session).
        """
        now = self.env.now
        period, ready = self.period[0], self.ready[0]
        wl, wr = self.wait_left[0], self.wait_right[0]
        draws = self.draws[0]
        stop_ps = self.outcome.stop_ps
        if draws.success_probability == 0.0:
            return
        m0 = self.memory[0](wl * 1e-12)
        m1 = self.memory[1](wr * 1e-12)
        ro = self.readout
        final = np.array([[lam[i] * m0[i] * m1[i] * ro[i] for i in range(3)] for lam in self.class_lams[0]])
        fid = (1.0 + final.sum(axis=1)) / 4.0
        stale = self.cutoff_ps is not None and max(wl, wr) >= self.cutoff_ps
        good = np.zeros(len(fid), dtype=bool) if stale else fid >= self.min_fidelity
        step = max(period, ready)
        t_next = max(now, self.last_attempt[0] + period)  # first attempt of the next block
        delivered = heralds = 0
        block = _BULK_BLOCK
        while True:
            extra, kind = draws.draw_block(block)
            block = min(2 * block, _MAX_BULK_BLOCK)
            if t_next + float(extra.max()) * len(extra) > INT64_SAFE:
                # A slow link: keep the draws up to the first attempt past the stop (the rest never matter,
                # and their sum could leave int64).
                reach = t_next + np.cumsum(extra + float(step))
                keep = int(np.searchsorted(reach, stop_ps, side="right")) + 1
                extra, kind = extra[:keep], kind[:keep]
            t0 = t_next + np.cumsum(extra + step, dtype=np.int64) - step
            t_ready = t0 + ready
            inside = t_ready < stop_ps
            n_in = int(np.count_nonzero(inside))
            kind = kind[:n_in]
            t_ready = t_ready[:n_in]
            ok = good[kind]
            ok_times = t_ready[ok]
            lams = final[kind[ok]]
            n_ok = len(ok_times)
            need = self._bulk_needed(delivered, lams)
            if need is not None and need <= n_ok:
                ok_times, lams = ok_times[:need], lams[:need]
                last = int(ok_times[-1])
                n_used = int(np.searchsorted(t_ready, last, side="right"))
                kind = kind[:n_used]
                self._bulk_record(ok_times, lams, kind, good, stale, wl + wr)
                self.ledgers[0].attempted(now, last, heralds=heralds + n_used)
                self.last_attempt[0] = int(t0[n_used - 1])
                self._at(last, self._bulk_done, None)
                return
            self._bulk_record(ok_times, lams, kind, good, stale, wl + wr)
            delivered += n_ok
            heralds += n_in
            if n_in < len(t0):
                self.ledgers[0].attempted(now, stop_ps, heralds=heralds)
                return
            t_next = int(t0[-1]) + step

    def _bulk_needed(self, delivered: int, lams: np.ndarray) -> int | None:
        """How many of these good pairs complete the request (None: not enough)."""
        if self.target_pairs is not None:
            need = self.target_pairs - delivered
            return need if need <= len(lams) else None
        assert self.target_key_bits is not None  # noqa: S101
        n = delivered + np.arange(1, len(lams) + 1)
        qz = self.sum_qz + np.cumsum((1.0 - lams[:, 2]) / 2.0)
        qx = self.sum_qx + np.cumsum((1.0 - lams[:, 0]) / 2.0)
        bits = key_bits_array(n, qz / n, qx / n)
        hit = np.flatnonzero(bits >= self.target_key_bits)
        return int(hit[0]) + 1 if hit.size else None

    def _bulk_record(
        self, times: np.ndarray, lams: np.ndarray, kind: np.ndarray, good: np.ndarray, stale: bool, wait_ps: int
    ) -> None:
        out = self.outcome
        n = len(kind)
        out.link_heralds += n
        out.storage_ps += n * wait_ps
        bad = n - len(times)
        if stale:
            out.discarded_cutoff += bad
        else:
            out.discarded_fidelity += bad
        if len(times):
            out.chunks.append((times, lams))
        self.sum_qz += float(np.sum((1.0 - lams[:, 2]) / 2.0))
        self.sum_qx += float(np.sum((1.0 - lams[:, 0]) / 2.0))

    def _bulk_done(self, event: Event) -> None:
        self.stop("completed")

    # ---- a chain without cutoffs, round by round ---------------------------------------------------------
    def start_rounds(self) -> None:
        """Swap-asap without cutoffs or failures, one engine event per delivered pair.

        Between two deliveries nothing can happen that is not fixed by the draws: link k restarts when both
        its memories are free, r_k = max(s_k, s_{k+1}) (s: the previous round's swap times, the delivery
        time D at the ends), heralds at h_k, repeater k swaps at s_k = max(h_{k−1}, h_k) and the pair is
        delivered at D = max_k(s_k + its corrections' delay). This is exactly what the event-by-event
        protocol does for such a route (the tests hold the two together); each delivery event computes
        the next round.
        """
        now = self.env.now
        self.free_at = [now] * (self.L + 1)
        self._round(now)

    def _round(self, now: int) -> None:
        L = self.L
        free = self.free_at
        period, ready, last = self.period, self.ready, self.last_attempt
        wl, wr, draws, class_lams, ledgers = self.wait_left, self.wait_right, self.draws, self.class_lams, self.ledgers
        stop_ps = self.outcome.stop_ps
        h = [0] * L
        x = y = z = 1.0
        for k in range(L):
            restart = free[k] if free[k] > free[k + 1] else free[k + 1]
            extra, kind = draws[k].next()
            first = last[k] + period[k]
            t0 = (restart if restart > first else first) + extra
            last[k] = t0
            hk = h[k] = t0 + ready[k]
            ledgers[k].herald(restart, hk if hk < stop_ps else stop_ps)
            lam = class_lams[k][kind]
            x *= lam[0]
            y *= lam[1]
            z *= lam[2]
        memory, bsm, corr_delay = self.memory, self.bsm, self.corr_delay
        deliver = h[0]
        storage = 0
        for k in range(1, L):
            hl, hr = h[k - 1], h[k]
            swap = hl if hl > hr else hr
            free[k] = swap
            held_left = swap - hl + wr[k - 1]
            held_right = swap - hr + wl[k]
            storage += held_left + held_right
            ma = memory[k](held_left * 1e-12)
            mb = memory[k](held_right * 1e-12)
            lm = bsm[k]
            x *= ma[0] * mb[0] * lm[0]
            y *= ma[1] * mb[1] * lm[1]
            z *= ma[2] * mb[2] * lm[2]
            known = swap + corr_delay[k]
            if known > deliver:
                deliver = known
        free[0] = free[L] = deliver
        held_left = deliver - h[0] + wl[0]
        held_right = deliver - h[L - 1] + wr[L - 1]
        self.outcome.storage_ps += storage + held_left + held_right
        self.outcome.link_heralds += L
        m0 = memory[0](held_left * 1e-12)
        mL = memory[L](held_right * 1e-12)
        ro = self.readout
        lam = (x * m0[0] * mL[0] * ro[0], y * m0[1] * mL[1] * ro[1], z * m0[2] * mL[2] * ro[2])
        self.env.call_at(deliver, self._round_delivered, lam)

    def _round_delivered(self, event: Event) -> None:
        if not self.active:
            return
        lam: Lam = event.value
        out = self.outcome
        if _pauli.fidelity(lam) < self.min_fidelity:
            out.discarded_fidelity += 1
        else:
            out.delivery_ps.append(self.env.now)
            out.lams.append(lam)
            self.sum_qz += (1.0 - lam[2]) / 2.0
            self.sum_qx += (1.0 - lam[0]) / 2.0
            if self._done(len(out.delivery_ps)):
                self.stop("completed")
                return
        self._round(self.env.now)


def key_bits_estimate(n: int, q_z: float, q_x: float) -> float:
    """Asymptotic BBM92 key from n pairs: n/2 (sifting) × (1 − h(Q_Z) − h(Q_X)), at least 0 (Shor–Preskill)."""
    return 0.5 * n * max(0.0, 1.0 - binary_entropy(q_z) - binary_entropy(q_x))


def key_bits_array(n: np.ndarray, q_z: np.ndarray, q_x: np.ndarray) -> np.ndarray:
    """:func:`key_bits_estimate` over arrays."""

    def h(q: np.ndarray) -> np.ndarray:
        q = np.clip(q, 1e-300, 1.0 - 1e-16)
        return np.asarray(-q * np.log2(q) - (1.0 - q) * np.log2(1.0 - q))

    return np.asarray(0.5 * n * np.maximum(0.0, 1.0 - h(q_z) - h(q_x)))


__all__ = ["Segment", "Session", "key_bits_array", "key_bits_estimate"]

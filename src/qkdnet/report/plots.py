"""Figures of a results table: what a sweep shows, drawn the way a paper would (units, legends, sources).

Kinds (:data:`PLOT_KINDS`): ``key-rate`` (secret key rate against fiber length, the PLOB bound and published
experiments), ``attack`` (QBER and CHSH S against Eve's strength, with the security thresholds), ``memory``
(fidelity and QBER against storage time), ``purification`` (pair rate against fidelity, one point per round)
``network`` (a map of one run's network, links coloured by their heralded pair rate) and ``design`` (a design
study's key per channel use against hardware improvement, with its Pareto front and PLOB). matplotlib is
imported when a figure is drawn, never at import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qkdnet.errors import InvalidParameter
from qkdnet.report.design_plot import plot_design
from qkdnet.report.figure import Figure, new_figure

Row = Mapping[str, Any]

#: The PLOB bound gets its own (right) axis when it lies more than this factor above the highest key rate.
PLOB_OWN_AXIS = 1e3

PLOT_KINDS: dict[str, str] = {
    "key-rate": "secret key rate against fiber length, with the PLOB bound and published experiments",
    "attack": "QBER and CHSH S against the attack strength, with the security thresholds",
    "memory": "pair fidelity and QBER against memory storage time",
    "purification": "heralded pair rate against fidelity, one point per purification round",
    "network": "map of a run's network, links coloured by heralded pair rate",
    "design": "key per channel use against hardware improvement: a design study's Pareto front and the PLOB bound",
}

PLOB = "PLOB bound −log₂(1−η) × attempts/s: Pirandola, Laurenza, Ottaviani & Banchi, Nat. Commun. 8, 15043 (2017)"
BBM92 = "asymptotic BBM92 key ½(1 − h(Q_Z) − h(Q_X)) per pair: Shor & Preskill, PRL 85, 441 (2000)"
THRESHOLDS = (
    "QBER 11 %: trusted-device limit of BB84/BBM92 (Shor & Preskill 2000); 7.15 % and S = 2.424: "
    "device-independent limits for one-way DIQKD (Acín et al., PRL 98, 230501 (2007)); S = 2: local bound "
    "(Clauser, Horne, Shimony & Holt, PRL 23, 880 (1969)); 2√2: Tsirelson's bound"
)
#: Axis labels (with units) of well-known fields and metrics, by the last part of the address.
LABELS = {
    "length_km": "fiber length (km)",
    "strength": "attack strength",
    "storage_s": "storage time in memory (s)",
    "cutoff_s": "memory cutoff (s)",
    "key_rate_bps": "secret key rate (bit/s)",
    "secret_key_rate_bps": "secret key rate (bit/s)",
    "pair_rate_hz": "heralded pairs per second",
    "fidelity": "pair fidelity with Φ+",
    "qber": "QBER",
    "chsh_s": "CHSH S",
    "purification_rounds": "purification rounds",
}


def _colors() -> list[str]:
    """The colour cycle of the current matplotlib style."""
    import matplotlib

    return list(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])


def ok_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows of runs that finished."""
    return [r for r in rows if r.get("status", "ok") == "ok"]


def varied_fields(rows: Sequence[Row]) -> list[str]:
    """Fields listed as varied in any row that take more than one value, in order of first appearance."""
    out: list[str] = []
    for r in rows:
        for f in json.loads(r.get("varied") or "[]"):
            if f not in out:
                out.append(f)
    return [f for f in out if len({json.dumps(r.get(f)) for r in rows}) > 1]


def _label(field: str) -> str:
    """A plain axis label with its unit for a field's address (the caption names the address itself)."""
    return LABELS.get(field.rsplit(".", 1)[-1], field)


def _pick_x(rows: Sequence[Row], candidates: Sequence[str], kind: str) -> str:
    varied = varied_fields(rows)
    for suffix in candidates:
        for f in varied:
            if f == suffix or f.endswith("." + suffix):
                return f
    present = [c for c in candidates if any(c in r for r in rows)]
    if present:
        return present[0]
    raise InvalidParameter(
        f"{kind}: the table varies none of {', '.join(candidates)} (it varies: {', '.join(varied) or 'nothing'})"
    )


def _groups(rows: Sequence[Row], x: str, extra: Sequence[str] = ()) -> dict[str, list[Row]]:
    """Rows split into curves: one per combination of the other varied fields (and ``extra`` fields that
    differ), sorted along ``x``; a curve of hardware mixed from several presets is labelled a hybrid."""
    from qkdnet.sweep.whole_presets import hybrid_parts

    keys = [f for f in varied_fields(rows) if f != x]
    keys += [f for f in extra if f not in keys and f != x and len({json.dumps(r.get(f)) for r in rows}) > 1]
    out: dict[str, list[Row]] = {}
    for r in rows:
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(r.get(k))}" for k in keys) or "this sweep"
        mixed = hybrid_parts(json.loads(r["config"])) if isinstance(r.get("config"), str) else []
        if mixed:
            label = f"hybrid {label} ({', '.join(dict.fromkeys(mixed))})"
        out.setdefault(label, []).append(r)
    for members in out.values():
        members.sort(key=lambda r: _num(r.get(x)))
    return out


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def _column(rows: Sequence[Row], name: str) -> list[float]:
    return [_num(r.get(name)) for r in rows]


def _positive(values: Sequence[float]) -> list[float]:
    return [v if v > 0 else math.nan for v in values]


def _require(rows: Sequence[Row], metrics: Sequence[str], kind: str) -> str:
    for m in metrics:
        if any(isinstance(r.get(m), int | float) for r in rows):
            return m
    raise InvalidParameter(f"{kind}: the table has none of the metrics {', '.join(metrics)}")


def _log_x(ax: Any, xs: Sequence[float]) -> None:
    positive = [v for v in xs if v > 0]
    if positive and len(positive) == len(xs) and max(positive) / min(positive) > 100:
        ax.set_xscale("log")


def _plob(row: Row) -> float:
    """PLOB bound (bit/s) of a row's link: from the ``link`` runner's metric, else from its configuration."""
    value = row.get("plob_key_rate_bps")
    if isinstance(value, int | float):
        return float(value)
    from qkdnet.qkd import plob_bits_per_use
    from qkdnet.sweep.runners import link_physics
    from qkdnet.units import PS_PER_S

    config = json.loads(row["config"])
    if len(config.get("links", [])) != 1:
        return math.nan
    link = link_physics(config["links"][0])
    return float(plob_bits_per_use(link.fiber.transmission) * PS_PER_S / link.attempt_period_ps)


def _shared_curve(xs: Mapping[str, Sequence[float]], ys: Mapping[str, Sequence[float]]) -> set[tuple[float, float]]:
    """The points of the one curve every group shares (same y at every x, to 1 ppm), or an empty set."""
    seen: dict[float, float] = {}
    for label in xs:
        for x, y in zip(xs[label], ys[label], strict=True):
            if x in seen and not math.isclose(seen[x], y, rel_tol=1e-6):
                return set()
            seen[x] = y
    return set(seen.items()) if len(xs) > 1 else set()


def plot_key_rate(rows: Sequence[Row]) -> Figure:
    """Secret key rate and key per heralded pair against fiber length, the PLOB bound and published points."""
    from qkdnet.report.published import key_per_pair_points, key_points, pair_rate_points

    rows = ok_rows(rows)
    x = _pick_x(rows, ["length_km"], "key-rate")
    y = _require(rows, ["key_rate_bps", "secret_key_rate_bps"], "key-rate")
    fig, (ax, ax_pair) = new_figure(2, 1, figsize=(7.5, 8), sharex=True, height_ratios=(3, 2))
    colors = _colors()
    xs_all = _column(rows, x)
    groups = _groups(rows, x, ["links[0].preset", "runner"])
    plob = {label: [_plob(r) for r in members] for label, members in groups.items()}
    key_top = max([v for v in _column(rows, y) if v > 0] or [math.nan])
    plob_top = max([v for values in plob.values() for v in values if v > 0] or [math.nan])
    shared_plob = _shared_curve({label: _column(members, x) for label, members in groups.items()}, plob)
    # PLOB dwarfs today's links by many decades: on the key's own axis it would squash the model curves.
    ax_plob = ax.twinx() if plob_top > PLOB_OWN_AXIS * key_top else ax
    for i, (label, members) in enumerate(groups.items()):
        c = colors[i % len(colors)]
        xs = _column(members, x)
        key = _column(members, y)
        ax.plot(xs, _positive(key), "o-", color=c, ms=3, label=f"model: {label}")
        if not shared_plob:
            plob_label = f"PLOB bound: {label}" if len(groups) <= 3 else None
            ax_plob.plot(xs, _positive(plob[label]), "--", color=c, lw=1, alpha=0.8, label=plob_label)
        pairs = _column(members, "pair_rate_hz")
        per_pair = [k / p if p > 0 else math.nan for k, p in zip(key, pairs, strict=True)]
        ax_pair.plot(xs, per_pair, "o-", color=c, ms=3, label=f"model: {label}")
    if shared_plob:  # one curve, not several drawn over each other in mixed colours
        along, values = zip(*sorted(shared_plob), strict=True)
        ax_plob.plot(along, _positive(values), "--", color="0.3", lw=1, label="PLOB bound (the same for every curve)")
    elif len(groups) > 3:
        ax_plob.plot([], [], "--", color="0.4", lw=1, label="PLOB bound (dashed, in its link's colour)")
    top = max([v for v in xs_all if math.isfinite(v)] or [1.0]) * 1.15
    shown: list[str] = []
    for p in pair_rate_points():
        if p.length_km <= top:
            ax.errorbar(p.length_km, p.value, yerr=p.uncertainty, fmt="s", mfc="none", color="0.3", ms=7, capsize=2)
            ax.annotate(
                f"{p.preset} pairs/s", (p.length_km, p.value), fontsize=7, xytext=(4, 4), textcoords="offset points"
            )
            shown.append(f"{p.preset}: {p.source}")
    for p in key_points():
        if p.length_km <= top:
            ax.plot(p.length_km, p.value, "*", color="k", ms=11)
            ax.annotate(
                f"{p.preset} key", (p.length_km, p.value), fontsize=7, xytext=(4, -10), textcoords="offset points"
            )
    for p in key_per_pair_points():
        if p.length_km <= top:
            ax_pair.errorbar(p.length_km, p.value, yerr=p.uncertainty, fmt="*", color="k", ms=11, capsize=2)
            ax_pair.annotate(p.preset, (p.length_km, p.value), fontsize=7, xytext=(4, 4), textcoords="offset points")
            shown.append(f"{p.preset}: {p.source}")
    ax.plot([], [], "s", mfc="none", color="0.3", label="published heralded pair rate (≥ key rate)")
    ax.plot([], [], "*", color="k", ms=9, label="published secret key")
    ax.set_yscale("log")
    ax.set_ylabel("secret key rate (bit/s)")
    handles, labels = ax.get_legend_handles_labels()
    if ax_plob is not ax:
        ax_plob.set_yscale("log")
        ax_plob.set_ylabel("PLOB bound (bit/s), dashed")
        more, more_labels = ax_plob.get_legend_handles_labels()
        handles, labels = handles + more, labels + more_labels
    ax.legend(handles, labels, fontsize=7, loc="best")
    ax.grid(alpha=0.3, which="both")
    ax_pair.legend(fontsize=7, loc="best")
    ax_pair.set_ylabel("secret key per heralded pair (bit)")
    ax_pair.set_xlabel(_label(x))
    ax_pair.grid(alpha=0.3)
    _log_x(ax_pair, xs_all)
    ax.set_title("Secret key rate against distance", fontsize=10)
    sources = "; ".join(dict.fromkeys(shown)) or "none in the plotted range"
    caption = (
        f"Top: secret key rate ({y}) of each run against {x}; dashed: the {PLOB}"
        + (" (right axis: it lies many decades above today's links)" if ax_plob is not ax else "")
        + ". Bottom: the same key per "
        f"heralded pair. Model: {BBM92} for the link runner, the finite-key pipeline for the key runner. "
        f"Open squares: published heralded pair rates, an upper bound on the key rate (≤ 1 bit per pair); stars: "
        f"published keys (Nadlinger et al.: 95,628 bits from 1.5·10⁶ pairs; Zhang et al.: 0.07 bit per event). "
        f"Published points: {sources}."
    )
    return Figure(fig, caption, "key-rate")


def plot_attack(rows: Sequence[Row]) -> Figure:
    """QBER (± 3σ) and CHSH S against the attack strength, with the trusted and device-independent thresholds."""
    from qkdnet.qkd import QBER_THRESHOLD_DI, QBER_THRESHOLD_TRUSTED, S_THRESHOLD_DI, TSIRELSON

    rows = ok_rows(rows)
    x = _pick_x(rows, ["strength"], "attack")
    _require(rows, ["qber"], "attack")
    fig, (ax_q, ax_s) = new_figure(2, 1, figsize=(7.5, 7.5), sharex=True)
    colors = _colors()
    any_s = False
    aborted: list[tuple[float, float]] = []
    for i, (label, members) in enumerate(_groups(rows, x, ["eve.kind", "key.protocol", "links[0].preset"]).items()):
        c = colors[i % len(colors)]
        xs = _column(members, x)
        q = [100 * v for v in _column(members, "qber")]
        dq = [300 * v if math.isfinite(v) else 0.0 for v in _column(members, "qber_stderr")]
        ax_q.errorbar(xs, q, yerr=dq, fmt="o-", color=c, ms=4, capsize=2, label=label)
        aborted += [(xi, qi) for xi, qi, r in zip(xs, q, members, strict=True) if r.get("secure") is False]
        s = _column(members, "chsh_s")
        if any(math.isfinite(v) for v in s):
            any_s = True
            ds = [3 * v if math.isfinite(v) else 0.0 for v in _column(members, "chsh_s_stderr")]
            ax_s.errorbar(xs, s, yerr=ds, fmt="o-", color=c, ms=4, capsize=2, label=label)
    if aborted:  # every curve's aborted runs as one set of marks, named once in the legend
        ax_q.plot(*zip(*aborted, strict=True), "x", color="tab:red", ms=8, label="run aborted: no key")
    ax_q.axhline(100 * QBER_THRESHOLD_TRUSTED, color="tab:red", ls="--", lw=1, label="11 %: trusted-device limit")
    ax_q.axhline(100 * QBER_THRESHOLD_DI, color="tab:purple", ls=":", lw=1, label="7.15 %: device-independent limit")
    ax_q.set_ylabel("QBER (%)")
    ax_q.legend(fontsize=7)
    ax_q.grid(alpha=0.3)
    if any_s:
        ax_s.axhline(2.0, color="tab:red", ls="--", lw=1, label="S = 2: local (classical) bound")
        ax_s.axhline(S_THRESHOLD_DI, color="tab:purple", ls=":", lw=1, label="S = 2.424: device-independent limit")
        ax_s.axhline(TSIRELSON, color="0.4", ls="-.", lw=0.8, label="2√2: Tsirelson bound")
        ax_s.legend(fontsize=7)
    else:
        ax_s.text(
            0.5,
            0.5,
            "no CHSH test in these runs (BBM92); use key.protocol=e91",
            ha="center",
            va="center",
            transform=ax_s.transAxes,
        )
    ax_s.set_ylabel("CHSH S")
    ax_s.set_xlabel(_label(x))
    ax_s.grid(alpha=0.3)
    ax_q.set_title("Eavesdropping against detection", fontsize=10)
    caption = (
        f"QBER (top, error bars ±3σ) and CHSH S at the E91 angles (bottom) against {x}; red crosses: runs that "
        f"aborted and handed out no key. Thresholds: {THRESHOLDS}."
    )
    return Figure(fig, caption, "attack")


def plot_memory(rows: Sequence[Row]) -> Figure:
    """Pair fidelity and QBER against how long the pair waited in memory, with the entanglement and key limits."""
    from qkdnet.qkd import QBER_THRESHOLD_TRUSTED

    rows = ok_rows(rows)
    x = _pick_x(rows, ["storage_s", "cutoff_s", "t2_s"], "memory")
    _require(rows, ["fidelity"], "memory")
    fig, (ax_f, ax_q) = new_figure(2, 1, figsize=(7.5, 7), sharex=True)
    for label, members in _groups(rows, x, ["links[0].preset"]).items():
        xs = _column(members, x)
        ax_f.plot(xs, _column(members, "fidelity"), "o-", ms=3, label=label)
        ax_q.plot(xs, [100 * v for v in _column(members, "qber")], "o-", ms=3, label=label)
    ax_f.axhline(0.5, color="0.4", ls=":", lw=1, label="F = 1/2: no entanglement below (Bell-diagonal pairs)")
    ax_f.set_ylabel("pair fidelity with Φ+")
    ax_f.legend(fontsize=7)
    ax_q.axhline(100 * QBER_THRESHOLD_TRUSTED, color="tab:red", ls="--", lw=1, label="11 %: no key above")
    ax_q.set_ylabel("QBER (%)")
    ax_q.set_xlabel(_label(x))
    ax_q.legend(fontsize=7)
    for ax in (ax_f, ax_q):
        ax.grid(alpha=0.3, which="both")
    _log_x(ax_q, _column(rows, x))
    ax_f.set_title("Fidelity against memory time", fontsize=10)
    if x.endswith("cutoff_s"):
        what = f"delivered pairs with Φ+ (top) and their QBER (bottom) against the memory cutoff {x} (a pair is "
        what += "discarded once a qubit has waited that long; the network simulator)"
    else:
        what = f"heralded pairs with Φ+ (top) and their QBER (bottom) after both qubits waited {x} in their "
        what += "atomic memories (dephasing, relaxation and readout of the preset's memory model)"
    caption = (
        f"Fidelity of the {what}. A Bell-diagonal pair is entangled iff F > 1/2 (Horodecki, PRA 54, 1838 "
        f"(1996)); trusted-device BBM92 keys need QBER < 11 % (Shor & Preskill, PRL 85, 441 (2000))."
    )
    return Figure(fig, caption, "memory")


def plot_purification(rows: Sequence[Row]) -> Figure:
    """Pair rate against fidelity: each purification round moves a point up in fidelity and down in rate."""
    rows = ok_rows(rows)
    rounds = "policies.purification_rounds"
    if not any(rounds in r for r in rows):
        raise InvalidParameter("purification: the table has no policies.purification_rounds column")
    _require(rows, ["fidelity"], "purification")
    fig, ax = new_figure(figsize=(7.5, 5))
    for label, members in _groups(rows, rounds, ["policies.purification_scheme", "links[0].preset"]).items():
        f = _column(members, "fidelity")
        rate = _column(members, "pair_rate_hz")
        ax.plot(f, _positive(rate), "o-", ms=5, label=label)
        for r, fi, ri in zip(members, f, rate, strict=True):
            ax.annotate(f"n={r.get(rounds)}", (fi, ri), fontsize=7, xytext=(4, 4), textcoords="offset points")
    if min((v for v in _column(rows, "fidelity") if math.isfinite(v)), default=1.0) < 0.6:
        ax.axvline(0.5, color="0.4", ls=":", lw=1, label="F = 1/2: entanglement boundary")
    ax.set_yscale("log")
    ax.set_xlabel("pair fidelity with Φ+")
    ax.set_ylabel("pairs per second")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title("Rate–fidelity trade-off of entanglement purification", fontsize=10)
    caption = (
        "Each point is one number n of recurrence purification rounds; each round turns two pairs into one, kept "
        "with the success probability, so the rate falls by p/2 per round while the fidelity rises. Schemes: "
        "BBPSSW (Bennett et al., PRL 76, 722 (1996)), DEJMPS (Deutsch et al., PRL 77, 2818 (1996)). The link "
        "runner's rates ignore memory decoherence while pairs wait for a partner (an upper bound)."
    )
    return Figure(fig, caption, "purification")


def _link_rates(config: Mapping[str, Any], row: Row) -> list[float]:
    """Heralded pairs/s of each link: the run's ``link_rates_hz`` metric (JSON) or the links' expected rates."""
    given = row.get("link_rates_hz")
    if isinstance(given, str):
        return [float(v) for v in json.loads(given)]
    from qkdnet.sweep.runners import link_physics

    return [float(link_physics(spec).expected_pair_rate_hz) for spec in config.get("links", [])]


def plot_network(rows: Sequence[Row]) -> Figure:
    """The network of the first finished run: nodes at their positions, links coloured by pair rate (log)."""
    import matplotlib
    import networkx as nx
    from matplotlib import colors as mcolors

    done = ok_rows(rows) or list(rows)
    if not done:
        raise InvalidParameter("network: the table is empty")
    row = done[0]
    config = json.loads(row["config"])
    graph = nx.Graph()
    graph.add_nodes_from(config["nodes"])
    links = config.get("links", [])
    rates = _link_rates(config, row)
    for spec, rate in zip(links, rates, strict=True):
        graph.add_edge(*spec["endpoints"], rate=rate, length=spec["length_km"])
    positions = {n: spec.get("position_km") for n, spec in config["nodes"].items()}
    if all(p is not None for p in positions.values()):
        pos = {n: (float(p[0]), float(p[1])) for n, p in positions.items() if p is not None}
        placed = "node positions from the scenario (km)"
    else:
        pos = nx.spring_layout(graph, seed=int(config.get("seed", 0)))
        placed = "a spring layout (the scenario gives no positions)"
    fig, ax = new_figure(figsize=(7.5, 6))
    positive = [r for r in rates if r > 0]
    low, high = (min(positive), max(positive)) if positive else (1.0, 1.0)
    if high < 10 * low:  # at least a decade of colour, so one link (or equal links) still reads well
        low, high = math.sqrt(low * high) / math.sqrt(10), math.sqrt(low * high) * math.sqrt(10)
    norm = mcolors.LogNorm(vmin=low, vmax=high) if positive else None
    cmap = matplotlib.colormaps["viridis"]
    small = graph.number_of_nodes() <= 40
    for a, b, data in graph.edges(data=True):
        color = cmap(norm(data["rate"])) if norm is not None and data["rate"] > 0 else "0.7"
        ax.plot([pos[a][0], pos[b][0]], [pos[a][1], pos[b][1]], "-", color=color, lw=3 if small else 1, zorder=1)
        if small:
            mid = ((pos[a][0] + pos[b][0]) / 2, (pos[a][1] + pos[b][1]) / 2)
            ax.annotate(
                f"{data['length']:g} km, {data['rate']:.3g} pairs/s",
                mid,
                fontsize=7,
                ha="center",
                color="0.2",
                xytext=(0, 6),
                textcoords="offset points",
            )
    xs = [pos[n][0] for n in graph.nodes]
    ys = [pos[n][1] for n in graph.nodes]
    ax.scatter(xs, ys, s=80 if small else 8, color="tab:orange", edgecolor="k", zorder=2)
    if small:
        for n in graph.nodes:
            ax.annotate(n, pos[n], fontsize=8, xytext=(5, 5), textcoords="offset points")
    if norm is not None:
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(mappable, ax=ax, label="heralded pairs per second")
    if placed.startswith("node positions"):
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
        ax.set_aspect("equal", adjustable="datalim")
    else:
        ax.set_axis_off()
    name = config.get("name") or "scenario"
    n_links = graph.number_of_edges()
    title = f"{name}: {graph.number_of_nodes()} nodes, {n_links} link{'s' if n_links != 1 else ''}"
    # A sweep over the links draws one run of many: say which, so its labels are not read as the sweep's.
    link_fields = [f for f in varied_fields(done) if f.startswith(("links", "link."))]
    which = ""
    if link_fields:
        which = f"run 1 of {len(done):,}; the sweep varies {', '.join(link_fields)}"
        title += f"\n({which})"
    ax.set_title(title, fontsize=10)
    ax.margins(0.15)
    source = (
        "the run's simulated link rates"
        if isinstance(row.get("link_rates_hz"), str)
        else ("each link's expected heralded pair rate (its preset's hardware over its fiber length)")
    )
    caption = f"The network of run {row['key'][:12]}" + (f" ({which})" if which else "")
    caption += f": {placed}; link colour: {source}, on a log scale."
    return Figure(fig, caption, "network")


#: The function that draws each kind, from the rows of one study.
PLOTTERS: dict[str, Callable[[Sequence[Row]], Figure]] = {
    "key-rate": plot_key_rate,
    "attack": plot_attack,
    "memory": plot_memory,
    "purification": plot_purification,
    "network": plot_network,
    "design": plot_design,
}


def studies(rows: Sequence[Row]) -> list[tuple[str, list[Row]]]:
    """The table split into studies: runs of one runner that varied the same fields (one ``qkdnet sweep`` command,
    or several that extend each other), in order of first appearance, each with a one-line label."""
    out: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        out.setdefault((str(r.get("runner")), str(r.get("varied") or "[]")), []).append(r)
    labelled = []
    for (runner, varied), members in out.items():
        fields = ", ".join(json.loads(varied)) or "nothing"
        labelled.append((f"{runner} runner, varying {fields} ({len(members)} runs)", members))
    return labelled


def plot_results(kind: str, rows: Sequence[Row]) -> Figure:
    """Draw figure ``kind`` (one of :data:`PLOT_KINDS`) from a results table: from the largest study that
    supports it (see :func:`studies`)."""
    try:
        plotter = PLOTTERS[kind]
    except KeyError:
        raise InvalidParameter(f"unknown plot {kind!r}; expected one of: {', '.join(PLOT_KINDS)}") from None
    if not rows:
        raise InvalidParameter(f"{kind}: the results table is empty")
    fitting = [members for _, members in studies(rows) if kind in suitable_kinds(members)]
    return plotter(max(fitting, key=len) if fitting else rows)


def suitable_kinds(rows: Sequence[Row]) -> list[str]:
    """The figures one study supports: what it varies decides (the network map always fits)."""
    done = ok_rows(rows)
    varied = varied_fields(done)

    def has(metric: str) -> bool:
        return any(isinstance(r.get(metric), int | float) for r in done)

    def ends(*tails: str) -> bool:
        return any(f.rsplit(".", 1)[-1] in tails for f in varied)

    kinds = []
    if ends("length_km") and (has("key_rate_bps") or has("secret_key_rate_bps")):
        kinds.append("key-rate")
    if ends("strength") and has("qber"):
        kinds.append("attack")
    if ends("storage_s", "cutoff_s", "t2_s") and has("fidelity"):
        kinds.append("memory")
    if "policies.purification_rounds" in varied and has("fidelity"):
        kinds.append("purification")
    if has("total_improvement") and has("key_per_use"):
        kinds.append("design")
    if any(r.get("runner") != "design" for r in done):  # a design study's rows hold no network to map
        kinds.append("network")
    return kinds


__all__ = [
    "LABELS",
    "PLOTTERS",
    "PLOT_KINDS",
    "Figure",
    "ok_rows",
    "plot_results",
    "studies",
    "suitable_kinds",
    "varied_fields",
]

"""The figure of a design study: key per channel use against total improvement, its Pareto front, and PLOB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qkdnet.errors import InvalidParameter
from qkdnet.report.figure import Figure, new_figure

Row = Mapping[str, Any]


def plot_design(rows: Sequence[Row]) -> Figure:
    """Every simulated design point (improvement in decades, key per use), the front no point beats in both, the
    PLOB bound of the chain's length, and the confirmed best design."""
    from qkdnet.design import pareto_front, required_margin

    done = [r for r in rows if r.get("status") == "ok" and r.get("runner") == "design"]
    if not done:
        raise InvalidParameter("design: the table has no design study's rows (qkdnet design writes them)")
    search_pairs = min(int(r["chain.pairs"]) for r in done)
    searched = [r for r in done if int(r["chain.pairs"]) == search_pairs]
    confirmations = sorted(
        (r for r in done if int(r["chain.pairs"]) > search_pairs and r.get("beats_plob")),
        key=lambda r: float(r["total_improvement"]),
    )
    keyed = [r for r in searched if float(r["key_per_use"]) > 0.0]
    plob = float(searched[0]["plob_per_use"])
    fig, ax = new_figure(figsize=(7.5, 5))
    ax.scatter(
        [float(r["total_improvement"]) for r in keyed],
        [float(r["key_per_use"]) for r in keyed],
        s=6,
        color="0.65",
        label=f"design points with key ({len(keyed)} of {len(searched)} evaluated)",
    )
    front = pareto_front(searched)
    if front:
        ax.step(
            [float(r["total_improvement"]) for r in front],
            [float(r["key_per_use"]) for r in front],
            where="post",
            color="tab:blue",
            lw=1.5,
            marker="o",
            ms=3,
            label="Pareto front: least improvement for each key per use",
        )
    ax.axhline(plob, color="tab:red", ls="--", lw=1, label=f"PLOB bound −log₂(1−η) = {plob:.3g} bit per use")
    for r in confirmations[:1]:
        ax.plot(
            float(r["total_improvement"]),
            float(r["key_per_use"]),
            "*",
            ms=12,
            color="tab:green",
            label=f"confirmed best: {float(r['total_improvement']):.2f} decades ({int(r['chain.pairs']):,} pairs)",
        )
    ax.set_yscale("log")
    ax.set_xlabel("total improvement Σ log₁₀ kᵢ (decades over the preset)")
    ax.set_ylabel("secret key per channel use (bit)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    first = searched[0]
    ax.set_title(
        f"{first['chain.nodes']} nodes of {first['chain.preset']} over {float(first['chain.length_km']):g} km",
        fontsize=10,
    )
    caption = (
        f"Design points of a repeater chain ({first['chain.nodes']} nodes, {float(first['chain.length_km']):g} km) "
        f"on the network simulator, {search_pairs:,} end-to-end pairs each: secret key per channel use (asymptotic "
        "BBM92, 1 − h(Q_Z) − h(Q_X); Shor & Preskill, PRL 85, 441 (2000); a use is one mode down every elementary "
        "link per attempt round) against the total improvement over the preset (Σ log₁₀ kᵢ; a probability p "
        "becomes p^(1/k), a time k-fold: da Silva et al., Quantum Sci. Technol. 6, 035007 (2021)). Dashed: the "
        "repeaterless PLOB bound of the whole length (Pirandola et al., Nat. Commun. 8, 15043 (2017)). A point "
        f"counts as beating it in the search with margin ≥ {required_margin(1.0, search_pairs):.3f} (3σ of its "
        "pair count); the star is the best one confirmed with more pairs and another seed."
    )
    return Figure(fig, caption, "design")


__all__ = ["plot_design"]

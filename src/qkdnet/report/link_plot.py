"""The figure of one link (``qkdnet link --plot``): heralded pair rate, pair fidelity and secret key rate against
fiber length, from zero to twice the link's own length, beside the repeaterless PLOB bound."""

from __future__ import annotations

import numpy as np

from qkdnet.network import HeraldedLink
from qkdnet.qkd import plob_bits_per_use
from qkdnet.report.figure import Figure, new_figure
from qkdnet.report.plots import BBM92, PLOB, PLOB_OWN_AXIS
from qkdnet.units import PS_PER_S

#: Lengths drawn per curve.
POINTS = 81


def link_figure(link: HeraldedLink, *, name: str | None = None) -> Figure:
    """Pair rate, fidelity and key rate of ``link`` against fiber length (the link's own length marked)."""
    top = max(2.0 * link.length_km, 1.0)
    lengths = np.linspace(0.0, top, POINTS)
    links = [link.with_length(float(x)) for x in lengths]
    rate = np.array([lk.expected_pair_rate_hz for lk in links])
    fidelity = np.array([lk.expected_fidelity for lk in links])
    key = np.array([lk.expected_key_rate_bps for lk in links])
    plob = np.array([plob_bits_per_use(lk.fiber.transmission) * PS_PER_S / lk.attempt_period_ps for lk in links])

    fig, (ax_rate, ax_f, ax_key) = new_figure(3, 1, figsize=(7, 9), sharex=True)
    ax_rate.semilogy(lengths, rate, color="tab:blue", label="heralded pairs per second")
    ax_rate.set_ylabel("heralded pairs per second")
    ax_f.plot(lengths, fidelity, color="tab:blue", label="fidelity of a heralded pair with Φ+")
    ax_f.axhline(0.5, color="0.4", lw=0.8, ls=":", label="F = 1/2: not entangled below")
    ax_f.set_ylabel("pair fidelity with Φ+")
    positive = key > 0
    ax_key.semilogy(lengths, np.where(positive, key, np.nan), color="tab:blue", label="BBM92 key rate (asymptotic)")
    own_axis = positive.any() and float(plob.max()) > PLOB_OWN_AXIS * float(key[positive].max())
    ax_plob = ax_key.twinx() if own_axis else ax_key
    ax_plob.semilogy(
        lengths,
        np.where(np.isfinite(plob), plob, np.nan),
        "--",
        color="tab:green",
        label="PLOB bound" + (" (right axis)" if own_axis else ""),
    )
    if own_axis:
        ax_plob.set_ylabel("PLOB bound (bit/s)", color="tab:green")
        ax_plob.tick_params(axis="y", colors="tab:green")
    ax_key.set_ylabel("secret key rate (bit/s)")
    ax_key.set_xlabel("fiber length (km)")
    if not positive.any():
        ax_key.text(0.5, 0.5, "no key at any length drawn", ha="center", va="center", transform=ax_key.transAxes)
    for ax in (ax_rate, ax_f, ax_key):
        ax.axvline(link.length_km, color="tab:red", lw=0.8, alpha=0.6, label=f"this link: {link.length_km:g} km")
        ax.grid(alpha=0.3)
    for ax in (ax_rate, ax_f):
        ax.legend(loc="best", fontsize=8)
    handles, labels = ax_key.get_legend_handles_labels()
    if own_axis:
        more, more_labels = ax_plob.get_legend_handles_labels()
        handles, labels = handles + more, labels + more_labels
    ax_key.legend(handles, labels, loc="best", fontsize=8)
    title = f"{name}: {link.description}" if name else link.description
    fig.suptitle(title, fontsize=9)
    caption = (
        f"{title}. Top: heralded pairs per second; middle: their fidelity with Φ+ (a Bell-diagonal pair is "
        f"entangled iff F > 1/2); bottom: the {BBM92}, times the pair rate, and the {PLOB}"
        + (", on its own right axis as it lies many decades higher" if own_axis else "")
        + f". The red line marks this link's {link.length_km:g} km; the attempt rate falls with length as each "
        "attempt waits for its herald."
    )
    return Figure(fig, caption, "link")


__all__ = ["link_figure"]

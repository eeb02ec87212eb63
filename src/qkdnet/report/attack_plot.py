"""The figure of an attack sweep (``qkdnet attack sweep --plot``): QBER and S against Eve's strength with the
security thresholds, and Eve's information and guessing accuracy before and after privacy amplification."""

from __future__ import annotations

import numpy as np

from qkdnet.qkd import QBER_THRESHOLD_DI, QBER_THRESHOLD_TRUSTED, S_THRESHOLD_DI, TSIRELSON, DetectionPoint
from qkdnet.report.figure import Figure, new_figure
from qkdnet.report.plots import THRESHOLDS


def attack_sweep_figure(points: list[DetectionPoint], *, title: str, xlabel: str = "attack strength") -> Figure:
    """Four panels: QBER, S, Eve's information and Eve's guessing accuracy against the attack strength."""
    x = np.array([p.strength for p in points])
    fig, axes = new_figure(2, 2, figsize=(11, 8), sharex=True)
    (ax_q, ax_s), (ax_i, ax_g) = axes
    aborted = np.array([p.abort_rate for p in points]) >= 0.5
    for ax in axes.ravel():
        for xi, ab in zip(x, aborted, strict=True):
            if ab:
                ax.axvspan(xi - _half_step(x), xi + _half_step(x), color="tab:red", alpha=0.08, lw=0)
        ax.grid(alpha=0.3)

    q = np.array([p.qber.value for p in points])
    ax_q.errorbar(x, 100 * q, yerr=100 * 3 * np.array([p.qber.stderr for p in points]), fmt="o-", label="QBER ± 3σ")
    ax_q.axhline(100 * QBER_THRESHOLD_TRUSTED, color="tab:red", ls="--", label="11.0 %: trusted-device limit")
    ax_q.axhline(100 * QBER_THRESHOLD_DI, color="tab:purple", ls=":", label="7.15 %: device-independent limit")
    ax_q.set_ylabel("QBER (%)")

    s_points = [(p.strength, p.chsh_s) for p in points if p.chsh_s is not None]
    if s_points:
        sx = np.array([s for s, _ in s_points])
        ax_s.errorbar(
            sx, [e.value for _, e in s_points], yerr=[3 * e.stderr for _, e in s_points], fmt="o-", label="S ± 3σ"
        )
        ax_s.axhline(2.0, color="tab:red", ls="--", label="S = 2: classical (local) limit")
        ax_s.axhline(S_THRESHOLD_DI, color="tab:purple", ls=":", label="S = 2.424: device-independent limit")
        ax_s.axhline(TSIRELSON, color="gray", ls="-.", lw=0.8, label="2√2: Tsirelson")
        ax_s.legend(fontsize=8)
    else:
        ax_s.text(0.5, 0.5, "no CHSH test in this protocol", ha="center", va="center", transform=ax_s.transAxes)
    ax_s.set_ylabel("CHSH S")

    ax_i.plot(x, [p.eve_sifted.mutual_information.bits for p in points], "o-", label="sifted key")
    fx = [p.strength for p in points if p.eve_final is not None]
    fi = [p.eve_final.mutual_information.bits for p in points if p.eve_final is not None]
    ax_i.plot(fx, fi, "s", color="tab:green", label="final key (after privacy amplification)")
    ax_i.set_ylabel("Eve's information (bit per key bit)")
    ax_i.set_xlabel(xlabel)
    ax_i.legend(fontsize=8)

    acc = [p.eve_sifted.guess_accuracy for p in points]
    ax_g.errorbar(x, [a.value for a in acc], yerr=[3 * a.stderr for a in acc], fmt="o-", label="sifted key")
    final = [(p.strength, p.eve_final.guess_accuracy) for p in points if p.eve_final is not None]
    ax_g.errorbar(
        [s for s, _ in final],
        [a.value for _, a in final],
        yerr=[3 * a.stderr for _, a in final],
        fmt="s",
        color="tab:green",
        label="final key ± 3σ",
    )
    ax_g.axhline(0.5, color="gray", ls="--", label="chance")
    ax_g.set_ylabel("Eve's guessing accuracy")
    ax_g.set_xlabel(xlabel)
    ax_g.legend(fontsize=8)

    from matplotlib.patches import Patch

    handles, labels = ax_q.get_legend_handles_labels()
    handles.append(Patch(color="tab:red", alpha=0.08, lw=0))
    labels.append("most runs aborted: no key handed out")
    ax_q.legend(handles, labels, fontsize=8)
    fig.suptitle(title)
    caption = (
        f"{title}. Top: QBER (±3σ over the seeds) and CHSH S at the E91 angles against {xlabel}; bottom: Eve's "
        "mutual information with the key and her guessing accuracy, on the sifted key and on the final key after "
        f"privacy amplification. Shaded: strengths where most runs aborted. Thresholds: {THRESHOLDS}."
    )
    return Figure(fig, caption, "attack-sweep")


def _half_step(x: np.ndarray) -> float:
    return float(np.min(np.diff(np.sort(x))) / 2) if x.size > 1 else 0.05

"""The model's value of each published headline number of a preset (what the preset tests compare).

>>> round(model_headline("nolleke2013", "success_probability"), 4)
0.001
"""

from __future__ import annotations

from collections.abc import Callable

from qkdnet.errors import InvalidParameter
from qkdnet.hardware import Preset, get_preset
from qkdnet.network.base import HeraldedLink
from qkdnet.network.link import StateTransferLink
from qkdnet.network.schemes import TwoPhotonLink, link_for_preset


def _teleportation(preset: Preset, link: HeraldedLink) -> float:
    if not isinstance(link, TwoPhotonLink):
        raise InvalidParameter(f"preset {preset.name!r} does not teleport (scheme {preset.scheme})")
    return link.teleportation_fidelity


_QUANTITIES: dict[str, Callable[[Preset, HeraldedLink], float]] = {
    "pair_fidelity": lambda p, link: link.expected_fidelity,
    "success_probability": lambda p, link: link.success_probability,
    "true_herald_probability": lambda p, link: link.true_herald_probability,
    "pair_rate_hz": lambda p, link: link.expected_pair_rate_hz,
    "chsh": lambda p, link: link.expected_chsh,
    "qber_z": lambda p, link: link.expected_qber_z,
    "qber_x": lambda p, link: link.expected_qber_x,
    "teleportation_fidelity": _teleportation,
    "state_transfer_fidelity": lambda p, link: StateTransferLink.from_preset(p).process_fidelity,
    "state_transfer_efficiency": lambda p, link: StateTransferLink.from_preset(p).efficiency,
}

#: Headline quantities the model can compute.
MODELED_QUANTITIES = tuple(_QUANTITIES)


def model_headline(preset: str | Preset, quantity: str) -> float:
    """The model's value of headline ``quantity`` for ``preset`` at its published length."""
    p = get_preset(preset) if isinstance(preset, str) else preset
    try:
        compute = _QUANTITIES[quantity]
    except KeyError:
        raise InvalidParameter(
            f"no model for headline {quantity!r}; modeled: {', '.join(MODELED_QUANTITIES)}"
        ) from None
    return compute(p, link_for_preset(p))


__all__ = ["MODELED_QUANTITIES", "model_headline"]

"""One vocabulary of link schemes: presets, scenario files, link objects and the CLI all use the same names."""

from __future__ import annotations

from qkdnet.config import HERALDING_SCHEMES
from qkdnet.hardware import get_preset, preset_names
from qkdnet.hardware.presets import SCHEMES
from qkdnet.network import SingleClickLink, StateTransferLink, TwoNodeLink, TwoPhotonLink, link_from_preset


def test_config_and_hardware_share_the_scheme_names() -> None:
    assert tuple(HERALDING_SCHEMES) == tuple(SCHEMES)
    assert set(SCHEMES) == {"two-photon", "single-click", "emission-absorption", "state-transfer"}


def test_link_classes_report_the_same_names() -> None:
    classes = (TwoNodeLink, StateTransferLink, TwoPhotonLink, SingleClickLink)
    assert {c.scheme for c in classes} == set(SCHEMES)


def test_every_preset_builds_a_link_of_its_own_scheme() -> None:
    for name in preset_names():
        assert link_from_preset(name).scheme == get_preset(name).scheme

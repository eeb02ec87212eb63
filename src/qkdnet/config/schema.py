"""The scenario schema: nodes, links, requests, policies and a seed, as frozen pydantic models.

Field-level rules live here (types, ranges, preset names, choices); rules that relate fields of different
entries (links name known nodes, requests are reachable) live in :mod:`qkdnet.config.checks`.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_serializer,
    model_validator,
)

from qkdnet.hardware.presets import SCHEMES, Scheme, preset_names

if TYPE_CHECKING:
    import networkx as nx

Heralding = Scheme  # the hardware presets' vocabulary: one set of scheme names everywhere
HERALDING_SCHEMES: tuple[str, ...] = SCHEMES
RoutingMetric = Literal["length", "rate"]
PurificationSchemeName = Literal["bbpssw", "dejmps"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@-]*$")


def _known_preset(name: str) -> str:
    valid = preset_names()
    if name not in valid:
        raise ValueError(f"unknown preset {name!r}; expected one of: {', '.join(valid)}")
    return name


def _node_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid node name {name!r}; use letters, digits and _ . : @ - (not first)")
    return name


PresetName = Annotated[StrictStr, AfterValidator(_known_preset)]
NodeName = Annotated[StrictStr, AfterValidator(_node_name)]
PositiveFloat = Annotated[StrictFloat, Field(gt=0.0, allow_inf_nan=False)]
Probability = Annotated[StrictFloat, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Coordinate = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Modes = Annotated[StrictInt, Field(ge=1)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    _ADDED_LATER: ClassVar[tuple[str, ...]] = ()
    """Optional tables added after scenarios were fingerprinted: left out of the serialised form when absent,
    so a scenario without them keeps the fingerprint (and the sweep tables keyed by it) it had before."""

    @model_serializer(mode="wrap")
    def _without_absent_additions(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        data: dict[str, object] = handler(self)
        for name in self._ADDED_LATER:
            if getattr(self, name) is None:
                data.pop(name, None)
        return data


class NodeSpec(_Spec):
    """A node: one atom-cavity system of a hardware preset with ``memories`` storage qubits; ``memory_t2_s``
    replaces the preset's memory coherence time (what-if hardware, e.g. a longer-lived memory qubit)."""

    preset: PresetName
    memories: Annotated[StrictInt, Field(ge=0)] = 1
    memory_t2_s: PositiveFloat | None = None
    position_km: tuple[Coordinate, Coordinate] | None = None
    _ADDED_LATER = ("memory_t2_s",)


Rate = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class TimeTagSideSpec(_Spec):
    """One side's detectors and clock for time-tag streams (``[links.timetags.alice]``/``.bob``); a field left
    out takes :class:`~qkdnet.hardware.timetagger.DetectorSide`'s default (published hardware, cited there)."""

    efficiency: Fraction | tuple[Fraction, ...] | None = None
    dark_count_rate_hz: Rate | tuple[Rate, ...] | None = None
    dead_time_ns: Rate | None = None
    afterpulse_probability: Fraction | None = None
    afterpulse_delay_ns: Rate | None = None
    jitter_ps: Rate | None = None
    basis_split: tuple[Fraction, ...] | None = None
    clock_offset_ps: StrictInt | None = None
    clock_drift_ppm: Annotated[float, Field(ge=-1e3, le=1e3, allow_inf_nan=False)] | None = None
    clock_wander_ps: Rate | None = None


class TimeTagSpec(_Spec):
    """``[links.timetags]``: the link emulator emits what two time taggers record (time on each side's clock,
    channel) from an entangled-photon source, in blocks of ``block_s``, instead of paired-up records. A field
    left out takes :class:`~qkdnet.hardware.timetagger.EntangledPairSource`'s default."""

    pair_rate_hz: Annotated[float, Field(gt=0.0, le=1e9, allow_inf_nan=False)] | None = None
    visibility: Fraction | None = None
    transmission_alice: Fraction | None = None
    transmission_bob: Fraction | None = None
    block_s: Annotated[float, Field(gt=0.0, le=60.0, allow_inf_nan=False)] = 1.0
    alice: TimeTagSideSpec = TimeTagSideSpec()
    bob: TimeTagSideSpec = TimeTagSideSpec()


class LinkSpec(_Spec):
    """A fiber link between two nodes, heralded by one of the schemes in HERALDING_SCHEMES; ``timetags``
    makes the link emulator deliver time-tag streams."""

    endpoints: tuple[NodeName, NodeName]
    length_km: PositiveFloat
    preset: PresetName
    heralding: Heralding
    name: StrictStr | None = None
    timetags: TimeTagSpec | None = None
    modes: Modes | None = None
    """Independent modes per attempt round (spatial, temporal or frequency multiplexing); absent: 1. A round
    heralds with 1 − (1 − p)^M and stores one pair (see :mod:`qkdnet.network.base`)."""
    _ADDED_LATER = ("timetags", "modes")

    @field_validator("modes")
    @classmethod
    def _one_mode_is_no_multiplexing(cls, modes: int | None) -> int | None:
        # modes = 1 is the link without multiplexing: the same scenario, so the same fingerprint.
        return None if modes == 1 else modes

    @property
    def mode_count(self) -> int:
        """``modes``, or 1 when the link leaves it out."""
        return 1 if self.modes is None else self.modes

    @property
    def label(self) -> str:
        """The link's name, or ``a-b`` from its endpoints."""
        return self.name or f"{self.endpoints[0]}-{self.endpoints[1]}"


class RequestSpec(_Spec):
    """End-to-end demand: ``pairs`` entangled pairs or ``key_bits`` of final key between two nodes."""

    endpoints: tuple[NodeName, NodeName]
    pairs: Annotated[StrictInt, Field(ge=1)] | None = None
    key_bits: Annotated[StrictInt, Field(ge=1)] | None = None
    min_fidelity: Probability = 0.0
    deadline_s: PositiveFloat | None = None
    route: tuple[NodeName, ...] | None = None
    name: StrictStr | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> RequestSpec:
        if (self.pairs is None) == (self.key_bits is None):
            raise ValueError("give exactly one of pairs or key_bits")
        return self

    @property
    def label(self) -> str:
        """The request's name, or ``a->b`` from its endpoints."""
        return self.name or f"{self.endpoints[0]}->{self.endpoints[1]}"


class PolicySpec(_Spec):
    """Network-wide policies: memory cutoff, purification and routing."""

    cutoff_s: PositiveFloat | None = None
    purification_rounds: Annotated[StrictInt, Field(ge=0)] = 0
    purification_scheme: PurificationSchemeName = "dejmps"
    routing_metric: RoutingMetric = "length"
    swap_efficiency: Probability = 1.0
    """Probability that a repeater's Bell measurement succeeds (a failure loses both pairs)."""
    swap_fidelity: Probability = 1.0
    """Probability that the Bell measurement reports the right outcome (each wrong one: (1 − f)/3)."""


RelayPolicy = Literal["hops", "available-key"]


class SystemSpec(_Spec):
    """``[system]``: what only the key network's processes need beyond the topology: the first of the
    loopback ports they take (``ports_base``), which node's KME serves each SAE (``saes``: SAE ID → node), and
    how key relay picks its route between KMEs (``relay``: fewest hops, or most key available on the hops).
    ``end_to_end`` lists paths along the scenario's links (``["a", "b", "c"]``) whose ends share key by
    entanglement swapping at the nodes between, which hold no key of it."""

    ports_base: Annotated[StrictInt, Field(ge=1024, le=65535)] = 28000  # below Linux's ephemeral 32768-60999
    saes: dict[NodeName, NodeName] = {}
    relay: RelayPolicy = "hops"
    end_to_end: tuple[Annotated[tuple[NodeName, ...], Field(min_length=3)], ...] = ()


class SkippedRequest(_Spec):
    """A request set aside at load time (unreachable, no memories at an end, a bad forced route), and why."""

    index: int
    request: RequestSpec
    reason: str


class Scenario(_Spec):
    """A whole scenario: the seed, nodes by name, links, requests and policies."""

    seed: Annotated[StrictInt, Field(ge=0)]
    name: StrictStr = ""
    description: StrictStr = ""
    nodes: dict[NodeName, NodeSpec] = Field(min_length=1)
    links: tuple[LinkSpec, ...] = ()
    requests: tuple[RequestSpec, ...] = ()
    policies: PolicySpec = PolicySpec()
    system: SystemSpec | None = None
    _skipped: tuple[SkippedRequest, ...] = PrivateAttr(default=())
    _ADDED_LATER = ("system",)

    @property
    def skipped_requests(self) -> tuple[SkippedRequest, ...]:
        """Requests left out at load time (with ``skip_bad_requests=True``), each with its reason."""
        return self._skipped

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the scenario: runs of equal scenarios share it."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def to_graph(self) -> nx.Graph:
        """The topology as a networkx Graph: node attributes from NodeSpec, edge attributes from LinkSpec."""
        import networkx as nx

        graph = nx.Graph()
        for name, node in self.nodes.items():
            graph.add_node(name, preset=node.preset, memories=node.memories, position_km=node.position_km)
        for index, link in enumerate(self.links):
            graph.add_edge(
                *link.endpoints,
                index=index,
                label=link.label,
                length_km=link.length_km,
                preset=link.preset,
                heralding=link.heralding,
                modes=link.mode_count,
            )
        return graph


class NodeDefaults(_Spec):
    """Values for nodes that leave them out."""

    preset: PresetName | None = None
    memories: Annotated[StrictInt, Field(ge=0)] | None = None
    memory_t2_s: PositiveFloat | None = None


class LinkDefaults(_Spec):
    """Values for links that leave them out."""

    preset: PresetName | None = None
    heralding: Heralding | None = None
    modes: Modes | None = None


class RequestDefaults(_Spec):
    """Values for requests that leave them out."""

    pairs: Annotated[StrictInt, Field(ge=1)] | None = None
    key_bits: Annotated[StrictInt, Field(ge=1)] | None = None
    min_fidelity: Probability | None = None
    deadline_s: PositiveFloat | None = None


class Defaults(_Spec):
    """The ``[defaults]`` table of a scenario file, merged into each entry before validation."""

    node: NodeDefaults = NodeDefaults()
    link: LinkDefaults = LinkDefaults()
    request: RequestDefaults = RequestDefaults()


class GenerateSpec(_Spec):
    """The ``[generate]`` table: nodes, links and requests made by a generator from the scenario's seed."""

    kind: Literal["random-geometric"]
    nodes: Annotated[StrictInt, Field(ge=2)] = 1000
    requests: Annotated[StrictInt, Field(ge=0)] = 10_000
    side_km: PositiveFloat = 100.0
    radius_km: PositiveFloat = 5.0
    fiber_factor: Annotated[StrictFloat, Field(ge=1.0, allow_inf_nan=False)] = 1.2
    preset: PresetName = "zhang2022"
    heralding: Heralding = "two-photon"
    memories: Annotated[StrictInt, Field(ge=0)] = 4
    pairs: Annotated[StrictInt, Field(ge=1)] = 10
    min_fidelity: Probability = 0.5


__all__ = [
    "HERALDING_SCHEMES",
    "Defaults",
    "GenerateSpec",
    "Heralding",
    "LinkDefaults",
    "LinkSpec",
    "NodeDefaults",
    "NodeSpec",
    "PolicySpec",
    "RelayPolicy",
    "RequestDefaults",
    "RequestSpec",
    "RoutingMetric",
    "Scenario",
    "SkippedRequest",
    "SystemSpec",
]

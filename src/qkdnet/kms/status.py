"""Which node daemon of this process a KME's Get status reports on (a registry, free of FastAPI imports).

A node daemon that serves its KME's ETSI GS QKD 014 API in its own process (``qkdnet node``) registers its
``status()`` here; the KME's Get status answer then carries it in ``status_extension["node"]`` (clause 6.1
leaves that object "for future use"), so the SAEs and the operator see whether the node still makes key, why
not (e.g. its tag-key reserve below the floor) and the reserve's slots. A KME served alone (``qkdnet kme``)
has no node here and answers without the extension.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

NodeStatus = Callable[[], Mapping[str, Any]]
_NODE_STATUS: dict[str, NodeStatus] = {}  # KME ID -> its node daemon's status()


@contextmanager
def node_status_served(kme_id: str, status: NodeStatus) -> Iterator[None]:
    """While inside, KME ``kme_id``'s Get status answers carry ``status()`` in ``status_extension["node"]``.

    ``status`` is called on the event loop that serves the API, once per Get status request.
    """
    _NODE_STATUS[kme_id] = status
    try:
        yield
    finally:
        if _NODE_STATUS.get(kme_id) is status:
            del _NODE_STATUS[kme_id]


def registered_node_status(kme_id: str) -> NodeStatus | None:
    """The status of the node daemon registered for ``kme_id`` in this process, or None."""
    return _NODE_STATUS.get(kme_id)


__all__ = ["NodeStatus", "node_status_served", "registered_node_status"]

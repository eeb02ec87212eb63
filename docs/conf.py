"""Sphinx configuration: the API reference, built from the docstrings by ``make docs``.

The build is nitpicky and warnings are errors (``sphinx-build -W -n``): a reference to a function, class or
module that does not exist fails the build. References into other libraries (NumPy, matplotlib, the
standard library) are not resolved, since the build runs offline; they are listed in ``nitpick_ignore_regex``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import fastapi  # noqa: F401 - imported before autodoc runs: under autodoc its pydantic models fail to build

from qkdnet._version import __version__

project = "qkdnet"
author = "the qkdnet developers"
release = __version__
extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build", "tutorial.ipynb", "make_tutorial.py"]
html_theme = "alabaster"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
nitpicky = True
nitpick_ignore_regex = [
    # other libraries' objects, and typing constructs: not resolvable offline
    (r"py:.*", r"(numpy|np|NDArray|ArrayLike|matplotlib|networkx|nx|pydantic|fastapi|dask|distributed|pyarrow)\b.*"),
    (r"py:.*", r"(typing|collections|pathlib|asyncio|dataclasses|enum|abc|os|io|json|ssl|socket|datetime)\b.*"),
    (r"py:.*", r"(uuid|concurrent|npt|FieldInfo)\b.*"),
    # annotated_types metadata of pydantic fields (a study file's bounds): not classes one could link to
    (r"py:.*", r"(Ge|Gt|Le|Lt|AllowInfNan|Strict)$"),
    (r"py:.*", r"[0-9][0-9.eE+]*$"),  # a bound of such a field, printed as if it were a type
    (r"py:.*", r"(Path|Any|Self|Callable|Mapping|Sequence|Iterable|Iterator|Awaitable|Literal|TypeAlias|T)$"),
    (r"py:.*", r"(int|float|str|bytes|bool|None|object|dict|list|tuple|set|frozenset|type|Exception)$"),
]


def _escape_kets(app: object, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    """Docstrings write kets and bras as |ψ> and <ψ|; reST would read the bars as substitutions."""
    lines[:] = [line.replace("|", "\\|") for line in lines]


def _resolves(path: str) -> bool:
    """Whether the dotted ``path`` is a qkdnet module, or an attribute reached from one."""
    import importlib

    names = path.split(".")
    for cut in range(len(names), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(names[:cut]))
        except Exception:  # noqa: S112 - not a module (or one that only imports in context): try the parent
            continue
        try:
            for attribute in names[cut:]:
                obj = getattr(obj, attribute)
        except Exception:  # a missing attribute, or a lazy attribute that cannot be built: not there
            return False
        return True
    return False


def _existing_object(target: str, context: str | None) -> bool:
    """Whether ``target`` names a real qkdnet object: as written, inside the module or class (``context``) the
    reference was made from or one of their parents, or (a bare name) in any qkdnet module."""
    import sys

    parts = context.split(".") if context else []
    candidates = [target] + [".".join([*parts[:i], target]) for i in range(len(parts), 0, -1)]
    if "." not in target:  # a name a docstring or an annotation uses inside the module that defines it
        candidates += [f"{name}.{target}" for name in list(sys.modules) if name.startswith("qkdnet")]
    return any(c.startswith("qkdnet") and _resolves(c) for c in candidates)


def _internal_reference(app: object, env: object, node: dict[str, str], contnode: object) -> object:
    """A reference to a qkdnet object the reference pages do not list (a type of a private module, a constant
    named by its module's docstring) resolves to plain text; a reference to something that does not exist at
    all is left alone, so the nitpicky build fails on it. Type annotations that carry pydantic metadata are
    not references."""
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py":
        return None
    if any(mark in target for mark in ("=", "'", "{", "}", "$", "-", ":")) or target.startswith("_"):
        return contnode
    module, cls = node.get("py:module"), node.get("py:class")
    context = f"{module}.{cls}" if cls else module
    return contnode if _existing_object(target, context) else None


def setup(app: object) -> None:
    app.connect("autodoc-process-docstring", _escape_kets)  # type: ignore[attr-defined]
    app.connect("missing-reference", _internal_reference)  # type: ignore[attr-defined]

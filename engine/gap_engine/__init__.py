"""gap_engine — a pure apply engine for the Generative Artifact Protocol (GAP 0.1).

Public API (stable; see each object's docstring for shapes, errors and the spec section):

- :class:`Artifact` ``(id, version, format, body[, state])``
- :func:`parse_envelope` ``(text, *, lenient=False) -> Envelope``
- :func:`apply` ``(artifact | None, envelope) -> (Artifact, handle Envelope)``
- :func:`apply_with_splices` — the same plus the exact splices made
- :func:`ingest` — what a model wrote → a valid envelope plus the repairs made
- :func:`scan` / :func:`strip` — target markers
- :class:`GapError` with ``.code`` and ``.message``
- :class:`ArtifactStore` — version chains, history, rollback, checksums, entity state, expiry
- :func:`list_paths` / :func:`pointer_span` — JSON Pointer inventory and spans (JSON, YAML)
- :mod:`gap_engine.sse` (GAP-SSE codec), :mod:`gap_engine.tokens` (token counters),
  :mod:`gap_engine.cli` (the ``gap`` command)

The engine does no I/O and imports nothing from LSP, HTTP or LLM packages.
"""

from .apply import ApplyResult, Splice, apply, apply_with_splices, estimate_tokens, make_handle
from .errors import GapError
from .ingest import Ingested, ingest
from .markers import Index, MarkerProblem, TargetInfo, TargetSpan, iter_markers, scan, strip
from .pointer import list_paths, pointer_span
from .store import ArtifactStore, checksum, verify_checksum
from .model import (
    PROTOCOL,
    Artifact,
    EditOperation,
    Envelope,
    HandleContent,
    SynthesizeContent,
    Target,
    converter,
    envelope_from_data,
    parse_envelope,
)

__all__ = [
    "PROTOCOL",
    "ApplyResult",
    "Artifact",
    "ArtifactStore",
    "EditOperation",
    "Envelope",
    "GapError",
    "HandleContent",
    "Index",
    "Ingested",
    "MarkerProblem",
    "Splice",
    "SynthesizeContent",
    "Target",
    "TargetInfo",
    "TargetSpan",
    "apply",
    "apply_with_splices",
    "checksum",
    "list_paths",
    "pointer_span",
    "verify_checksum",
    "converter",
    "envelope_from_data",
    "estimate_tokens",
    "ingest",
    "iter_markers",
    "make_handle",
    "parse_envelope",
    "scan",
    "strip",
]
__version__ = "0.1.0"

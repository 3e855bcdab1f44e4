"""Edits from an instruction over any OpenAI-compatible model, streamed (issue 6).

- :mod:`.config` — settings / environment, the API key as a :class:`~.config.Secret`
- :mod:`.prompts` — maintain and init contexts (GAP §5.1, §7.1), repair and fallback prompts
- :mod:`.client` — streamed chat completions with the ``openai`` package, cancellation
- :mod:`.pipeline` — stream → parse → validate → repair → fall back → one result; accounting
- :mod:`.tokens` — token counting (``tokenizers`` or a labelled estimate)
- :mod:`.stream` — ``token_source`` for the preview server's streaming endpoints
- :mod:`.commands` — the LSP commands and code actions (``register(ls)``)
- :mod:`.cli` — ``gap-ls edit FILE -m "instruction"``
"""

from .client import CancelToken, Deadline, LLMClient, LLMError
from .config import LLMConfig, Secret, redact
from .pipeline import Accounting, EditFailed, EditOutcome, EditPipeline, SessionStats, SynthOutcome

__all__ = [
    "Accounting",
    "CancelToken",
    "Deadline",
    "EditFailed",
    "EditOutcome",
    "EditPipeline",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "Secret",
    "SessionStats",
    "SynthOutcome",
    "redact",
]

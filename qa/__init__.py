"""qa: answers questions about your documents and cites the exact passages it rests on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "DocumentInfo",
    "Excerpt",
    "IndexStatus",
    "Passage",
    "QAError",
]

if TYPE_CHECKING:
    from .assistant import Assistant
    from .errors import QAError
    from .models import Answer, Citation, DocumentInfo, Excerpt, IndexStatus, Passage


def __getattr__(name: str) -> Any:
    """Import lazily, so `import qa` (and `qa --help`) stays fast."""
    if name == "Assistant":
        from .assistant import Assistant

        return Assistant
    if name == "QAError":
        from .errors import QAError

        return QAError
    if name in {"Answer", "Citation", "DocumentInfo", "Excerpt", "IndexStatus", "Passage"}:
        from . import models

        return getattr(models, name)
    raise AttributeError(name)

"""The error tree: every failure a user can act on, with a message that says what to do."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant raises on purpose."""


class DocumentRejected(AssistantError):
    """A file cannot be ingested (unreadable, encrypted, no text layer, wrong type, too large)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class DocumentTooLarge(DocumentRejected):
    """An upload is over the configured size limit (UNGP_MAX_DOCUMENT_MB)."""


class IndexNotReady(AssistantError):
    """The index has not been built yet, or is being built."""


class BadQuestion(AssistantError):
    """The question cannot be answered as asked (empty, too long)."""


class DocumentNotFound(AssistantError):
    """No ingested document has that name."""


class LetterNotFound(DocumentNotFound):
    """No indexed letter has that reference."""


class NotALetter(AssistantError):
    """The document is not a Special Procedures letter, so it has no letter fields or outline."""


class BadFilter(AssistantError):
    """A search restriction cannot be applied as given (not a reference, dates in the wrong order...)."""


class ConversationNotFound(AssistantError):
    """No stored conversation has that id (never created, or removed to keep the store bounded)."""


class AnswerNotFound(AssistantError):
    """No kept answer has that id (never shown, or removed to keep the feedback store small)."""


class SlackUnavailable(AssistantError):
    """Slack cannot be reached, or refused the app's tokens."""


class EvaluationError(AssistantError):
    """An evaluation cannot run as asked (bad questions file, unknown system, unreachable server)."""

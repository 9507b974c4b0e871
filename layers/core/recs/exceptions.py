"""Every error the domain raises, in one place, so handlers map them to HTTP in one place."""

from __future__ import annotations


class RecsError(Exception):
    """Base of every error raised on purpose by this package."""


class ValidationError(RecsError):
    """Input that breaks a data contract; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Forbidden(RecsError):
    """A caller whose credential does not allow the request (403): the storefront key on a
    server-only route, or naming a shopper without that shopper's token. ``field`` names
    the credential: the ``x-api-key`` header or the ``shopper_token`` parameter."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PayloadTooLarge(RecsError):
    """A request body or batch over its documented limit."""


class StateLimitExceeded(PayloadTooLarge):
    """A write that would grow a bounded stored state past its bound (a DynamoDB item holds
    at most 400 KB), refused before anything is written; ``field`` names the request field
    that adds to it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class StoreError(RecsError):
    """A storage adapter failed after its retries; wraps the SDK error."""


class PartlyEnqueued(StoreError):
    """A queue took some of the messages sent and not the others: ``unsent`` holds the
    positions of those it did not take (or did not confirm), so that ingest can answer for
    each event instead of failing events that are already safe."""

    def __init__(self, message: str, unsent: list[int]) -> None:
        super().__init__(message)
        self.unsent = unsent


class ExportFailed(StoreError):
    """A share of the export written by another process failed: the step fails and its
    retry writes every row again (the rows are keyed by version, so nothing doubles)."""


class NotFound(RecsError):
    """A stored object or record that should exist does not."""


class SparkOutputError(RecsError):
    """The Spark job's outputs for a version are missing, or are not that version's: the run
    stops before anything of them is evaluated or exported."""


class PromotionRefused(RecsError):
    """A model version that may not go live (counts differ, gate refused, unknown version)."""


class Conflict(RecsError):
    """A request that contradicts the stored state: an experiment id taken, a second running
    experiment on a surface, stopping one that is stopped."""


class UnreadableInput(RecsError):
    """More of the batch's input could not be read than ``RECS_MAX_UNREADABLE_SHARE`` allows:
    past that share the data is too broken to train on, so the run fails (the live model
    keeps serving). ``kind`` is ``events`` or ``catalog``; ``skipped`` how many inputs."""

    def __init__(self, kind: str, skipped: int, share: float, limit: float,
                 examples: list[str]) -> None:
        super().__init__(
            f"{kind}: {skipped} unreadable inputs, {share:.1%} of the bytes, over the "
            f"{limit:.1%} RECS_MAX_UNREADABLE_SHARE allows; first: {'; '.join(examples)}")
        self.kind = kind
        self.skipped = skipped
        self.share = share


class ConfigError(RecsError):
    """A configuration value that cannot be used; raised at cold start, not per request."""


class ParameterError(ValidationError):
    """Bad request parameters: ``problems`` holds (name, location, reason) for each of them."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(problems[0][0], problems[0][2])
        self.args = ("; ".join(f"{name}: {reason}" for name, _, reason in problems),)
        self.problems = problems


class RecommenderError(RecsError, ValueError):
    """Bad input to a recommender or a bad algorithm name or parameter; the message names the
    mismatch. A ``ValueError`` too, as numpy's and scipy's own refusals are."""


class NaNError(RecommenderError):
    """A recommender's input holds NaN or infinite values."""


class NotFittedError(RecommenderError):
    """A recommender asked to rank before ``fit`` or ``load``."""

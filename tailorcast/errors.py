"""Every error Tailorcast raises on purpose, in one place.

    TailorcastError                 base; expected errors print without a traceback
    ├── ConfigError                 settings, secret or database unusable (e.g. its schema is behind the code)
    ├── TemplateError               a template breaks a rule (carries every problem found)
    ├── InputError                  the customers file cannot be read at all
    ├── RowError                    one customer row is invalid (row, customer id, column)
    ├── ExpressionError             a template expression cannot be parsed or evaluated for a row
    ├── RenderError                 making pixels, video or a page failed for one customer
    ├── StorageError                the bucket refused or cannot be reached
    │   └── TransientError          worth retrying (network, throttling)
    ├── LeaseError                  another run or bake of the run id holds its lease, or took it over from this one
    ├── PaymentError                a payment value is unusable: field, problem, fix
    │   ├── LinkRejected            a signed pay link must not be honoured (malformed | signature | expired)
    │   └── WebhookRejected         a webhook must not be trusted (missing | malformed | signature | stale)
    ├── InvoiceConflict             the store refuses a payment or link that disagrees with the issued invoice
    ├── ReplayedDelivery            the store has seen this webhook event id before
    ├── ResultsInputError           a run's manifest or a payments file cannot be used (bad rows are named by number)
    └── StudioRefused               the studio's store refuses a change (a version under review, one's own approval, a bad role…)

Exceptions must survive pickling (Ray ships them between processes): every
constructor argument goes to ``super().__init__`` and the text is built in
``__str__``.
"""

from __future__ import annotations

from dataclasses import dataclass


class TailorcastError(Exception):
    """Base of every expected error."""

    retryable = False


class ConfigError(TailorcastError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a template: where it is and how to fix it."""

    where: str  # e.g. "template.yaml:42 scenes[2].layers[1].box"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class TemplateError(TailorcastError):
    def __init__(self, template: str, problems: list[Problem] | tuple[Problem, ...]) -> None:
        super().__init__(template, tuple(problems))
        self.template = template
        self.problems = tuple(problems)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"template '{self.template}': {n} problem{'s' if n != 1 else ''}"
        return head + "".join(f"\n  - {p}" for p in self.problems)


class InputError(TailorcastError):
    def __init__(self, source: str, message: str) -> None:
        super().__init__(source, message)
        self.source = source
        self.message = message

    def __str__(self) -> str:
        return f"customers '{self.source}': {self.message}"


class RowError(TailorcastError):
    """A customer row that cannot be used; the run records it and goes on."""

    def __init__(self, row: int, customer_id: str, column: str, reason: str) -> None:
        super().__init__(row, customer_id, column, reason)
        self.row = row
        self.customer_id = customer_id
        self.column = column
        self.reason = reason

    def __str__(self) -> str:
        who = f" (customer {self.customer_id})" if self.customer_id else ""
        col = f", column '{self.column}'" if self.column else ""
        return f"row {self.row}{who}{col}: {self.reason}"

    def public_str(self) -> str:
        """For logs above debug level: no customer id and no cell value (the reason may quote one)."""
        col = f", column '{self.column}'" if self.column else ""
        return f"row {self.row}{col}: rejected; the reason is in the run's error report"


class RenderError(TailorcastError):
    def __init__(self, stage: str, message: str, detail: str = "") -> None:
        super().__init__(stage, message, detail)
        self.stage = stage
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        text = f"{self.stage}: {self.message}"
        if self.detail:
            text += f"\n{self.detail}"
        return text


class StorageError(TailorcastError):
    def __init__(self, target: str, message: str) -> None:
        super().__init__(target, message)
        self.target = target
        self.message = message

    def __str__(self) -> str:
        return f"bucket '{self.target}': {self.message}"


class TransientError(StorageError):
    retryable = True


class LeaseError(TailorcastError):
    """A run id that another process is writing (a run or a bake holds its lease in the bucket), or whose
    lease another process took over from this one: nothing more is written (workers/lease.py)."""

    def __init__(self, run_id: str, message: str) -> None:
        super().__init__(run_id, message)
        self.run_id = run_id
        self.message = message

    def __str__(self) -> str:
        return f"run '{self.run_id}': {self.message}"


class ExpressionError(TailorcastError):
    """A template expression that cannot be parsed or evaluated (for this row)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(source, message)
        self.source = source
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} in {self.source!r}"


class PaymentError(TailorcastError):
    """A payment value is unusable; ``field`` says which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class LinkRejected(PaymentError):
    """A signed payment link that must not be honoured; ``reason`` is machine-readable."""

    REASONS = ("malformed", "signature", "expired")

    def __init__(self, reason: str, field: str, message: str) -> None:
        TailorcastError.__init__(self, reason, field, message)
        self.reason = reason
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"payment link rejected ({self.reason}): {self.field}: {self.message}"


class WebhookRejected(PaymentError):
    """A webhook delivery that must not be trusted; ``reason`` is machine-readable."""

    REASONS = ("missing", "malformed", "signature", "stale")

    def __init__(self, reason: str, message: str) -> None:
        TailorcastError.__init__(self, reason, message)
        self.reason = reason
        self.field = "Tailorcast-Signature"
        self.message = message

    def __str__(self) -> str:
        return f"webhook rejected ({self.reason}): {self.message}"


class InvoiceConflict(TailorcastError):
    """A payment or a link disagrees with what was issued for the invoice; it is not marked paid."""

    def __init__(self, ref: str, field: str, issued: str, got: str) -> None:
        super().__init__(ref, field, issued, got)
        self.ref = ref
        self.field = field
        self.issued = issued
        self.got = got

    def __str__(self) -> str:
        return f"invoice {self.ref}: the {self.field} ({self.got}) differs from what was issued ({self.issued}); refused, the invoice is unchanged"


class ReplayedDelivery(TailorcastError):
    """A webhook event id seen before: it is never processed twice."""

    def __init__(self, event_id: str) -> None:
        super().__init__(event_id)
        self.event_id = event_id

    def __str__(self) -> str:
        return f"webhook event {self.event_id} was already received; it is not processed again"


class ResultsInputError(TailorcastError):
    """A run's manifest or a billing system's payments file that results cannot read at all (rows are reported one by one)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(source, message)
        self.source = source
        self.message = message

    def __str__(self) -> str:
        return f"'{self.source}': {self.message}"


class StudioRefused(TailorcastError):
    """A change the studio's rules do not allow; nothing was changed."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(what, reason)
        self.what = what
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.what}: {self.reason}"

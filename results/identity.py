"""A customer in the results tables: a keyed hash of the customer id, never the id itself.

``customer_key = HMAC-SHA256(derive_key(secret, "results-customer"), customer id)``, 32 hex digits. The
same secret turns the billing system's customer ids (payments import) and the manifest's into the same
keys, so payments meet their customers without the store holding a customer id.
"""

from __future__ import annotations

import hashlib
import hmac

from tailorcast.payments.links import derive_key

PURPOSE = "results-customer"


def customer_key(secret: bytes, customer_id: str) -> str:
    return hmac.new(derive_key(secret, PURPOSE), customer_id.strip().encode(), hashlib.sha256).hexdigest()[:32]

"""Ways to ask for money, and proof of who asked: pure functions, no clock, no IO.

    amounts     integer cents and Decimals, invoice references, currency codes
    links       signed payment-page links (HMAC over ref, amount, currency, expiry,
                customer token), per-purpose keys (derive_key), link expiry
    stripe      Stripe Payment Links with client_reference_id and a prefilled e-mail
    pagopa      pagoPA notice QR payloads (PAGOPA|002|…)
    epc         SEPA EPC QR payloads (BCD version 002) with IBAN/BIC checks
    webhooks    webhook signatures (Tailorcast-Signature: t=…,v1=…, Stripe-style)
    paylink     one customer's pay link, as the template's payment provider wants it

Amounts are integer minor units (cents) or ``Decimal``, never floats. Anything
that depends on time takes ``now`` (unix seconds) as an argument. Drawing the QR
codes is page work (microsite/payment.py). Errors (tailorcast/errors.py)::

    TailorcastError
    └── PaymentError                a payment value is unusable: field, problem, fix
        ├── LinkRejected            a signed link must not be honoured (reason: malformed | signature | expired)
        └── WebhookRejected         a webhook must not be trusted (reason: missing | malformed | signature | stale)
"""

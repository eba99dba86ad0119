"""Write sample-customers.csv for the payment reminder (deterministic; commit the output).

    .venv/bin/python templates/payment-reminder/make_sample_customers.py

Customers in en, it, fr, tr and ar; days overdue on both sides of the firm-tone
rule (30 days) and amounts on both sides of the instalment offer (150).
"""

from __future__ import annotations

import random
from pathlib import Path

from tailorcast.customers import write_customers

OUT = Path(__file__).resolve().parent / "sample-customers.csv"
COLUMNS = ["customer_id", "first_name", "email", "locale", "currency", "invoice_id", "amount_due", "due_date", "days_overdue"]
PEOPLE = [
    ("en", "Olivia"), ("it", "Giulia"), ("fr", "Léa"), ("tr", "Şule"), ("ar", "أحمد"),
    ("en", "Νίκος"), ("it", "Marco"), ("fr", "Hugo"), ("tr", "İsmail"), ("ar", "فاطمة"),
    ("en", "דוד"), ("it", "Chiara"), ("fr", "Zoé"), ("tr", "Çağla"), ("ar", "يوسف"),
    ("en", "Иван"), ("it", "Luca"), ("fr", "Théo"), ("tr", "Barış"), ("ar", "مريم"),
]


def main() -> None:
    rng = random.Random(7)
    rows = []
    for n, (locale, name) in enumerate(PEOPLE, 1):
        days = [3, 12, 45, 61][n % 4]
        amount = [64.3, 129.9, 188.4, 312.75][(n // 2) % 4] + rng.randint(0, 9)
        rows.append({
            "customer_id": f"R-{n:04d}", "first_name": name, "email": f"reminder{n:04d}@example.com", "locale": locale,
            "currency": "EUR", "invoice_id": f"2026-09-{n:06d}", "amount_due": f"{amount:.2f}",
            "due_date": f"2026-10-{10 + n % 15:02d}", "days_overdue": str(days),
        })
    print(f"wrote {write_customers(OUT, COLUMNS, rows)} rows to {OUT}")


if __name__ == "__main__":
    main()

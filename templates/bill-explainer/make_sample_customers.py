"""Write sample-customers.csv: deterministic demo rows (run from anywhere with the venv's python; commit the output).

    .venv/bin/python templates/bill-explainer/make_sample_customers.py

50 good customers across it, fr, tr, id and en whose names exercise Turkish,
Greek, Cyrillic, Arabic and Hebrew letters, one hostile name that must show as
plain text, and a few deliberately bad rows for the error report.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

from tailorcast.customers import write_customers

OUT = Path(__file__).resolve().parent / "sample-customers.csv"
COLUMNS = ["customer_id", "first_name", "last_name", "email", "locale", "currency", "invoice_id", "amount_due",
           "energy_charge", "network_charge", "taxes", "due_date", "period_end", "kwh", "notice_code"]
NAMES = {
    "it": [("Giulia", "Rossi"), ("Marco", "Bianchi"), ("Chiara", "Esposito"), ("Luca", "Romano"), ("Francesca", "Colombo"),
           ("Alessandro", "Ricci"), ("Sofia", "Marino"), ("Matteo", "Greco"), ("Αλέξανδρος", "Παπαδόπουλος"), ("Niccolò", "Sforza-Visconti di Modrone")],
    "fr": [("Camille", "Dubois"), ("Léa", "Moreau"), ("Hugo", "Lefèvre"), ("Chloé", "Girard"), ("Théo", "Mercier"),
           ("Zoé", "Faure"), ("Amélie", "Rousseau"), ("Гийом", "Бернар"), ("Yasmine", "بن علي"), ("François-Xavier", "de La Rochefoucauld")],
    "tr": [("İsmail", "Yılmaz"), ("Şule", "Kaya"), ("Ağca", "Demir"), ("Gülşen", "Çelik"), ("Ömer", "Şahin"),
           ("Çağla", "Yıldız"), ("Barış", "Öztürk"), ("Ilgın", "Aydın"), ("Doğan", "Arslan"), ("Özgür", "Doğru")],
    "id": [("Siti", "Rahayu"), ("Budi", "Santoso"), ("Dewi", "Lestari"), ("Agus", "Wijaya"), ("Putri", "Anggraini"),
           ("Rizky", "Pratama"), ("Wayan", "Sudarsana"), ("Nur", "Hidayat"), ("Ayu", "Kusuma"), ("Bambang", "Susilo")],
    "en": [("Olivia", "Smith"), ("Noah", "Johnson"), ("Νίκος", "Γεωργίου"), ("Иван", "Петров"), ("أحمد", "الحسن"),
           ("דוד", "כהן"), ("Amelia", "O'Brien"), ("Wolfeschlegelsteinhausenbergerdorff", "Bartholomew Alexander"), ("Chloe", "Nguyen"), ("James", "Taylor")],
}


def kwh_series(rng: random.Random) -> list[int]:
    base = rng.randint(120, 420)
    season = [1.25, 1.2, 1.1, 0.95, 0.85, 0.8, 0.9, 0.95, 0.85, 0.95, 1.1, 1.2]
    return [round(base * s * rng.uniform(0.9, 1.1)) for s in season]


def money(d: Decimal) -> str:
    return str(d.quantize(Decimal("0.01")))


def good_row(n: int, locale: str, first: str, last: str, rng: random.Random) -> dict:
    kwh = kwh_series(rng)
    energy = Decimal(kwh[-1]) * Decimal("0.21")
    network = Decimal(rng.randint(1500, 2600)) / 100
    taxes = (energy + network) * Decimal("0.10")
    total = energy.quantize(Decimal("0.01")) + network + taxes.quantize(Decimal("0.01"))
    return {
        "customer_id": f"CUST-{n:05d}",
        "first_name": first,
        "last_name": last,
        "email": f"customer{n:05d}@example.com",
        "locale": locale,
        "currency": "EUR",
        "invoice_id": f"2026-10-{n:06d}",
        "amount_due": money(total),
        "energy_charge": money(energy),
        "network_charge": money(network),
        "taxes": money(taxes),
        "due_date": f"2026-12-{rng.randint(10, 28):02d}",
        "period_end": "2026-10-31",
        "kwh": ";".join(map(str, kwh)),
        "notice_code": f"3010000000{n:08d}" if locale == "it" else "",  # pagoPA: Italian bills only
    }


def main() -> None:
    rng = random.Random(20261123)
    rows: list[dict] = []

    def add(locale: str, first: str, last: str) -> dict:
        rows.append(good_row(len(rows) + 1, locale, first, last, rng))
        return rows[-1]

    for i in range(10):
        for locale in ("it", "fr", "tr", "id", "en"):
            add(locale, *NAMES[locale][i])
    # a hostile name: must appear as literal text in the page and the video
    add("en", "<script>alert(1)</script>", "O'Hara & Sons")
    # deliberately bad rows, for the error report
    add("it", "Paolo", "Senzaimporto")["amount_due"] = ""
    bad = add("fr", "Julien", "Compteur")
    bad["kwh"] = bad["kwh"].replace(bad["kwh"].split(";")[3], "n/a", 1)
    add("xx", "Nobody", "Unknown")
    add("tr", "Emre", "Tekrar")["customer_id"] = rows[2]["customer_id"]
    print(f"wrote {write_customers(OUT, COLUMNS, rows)} rows to {OUT}")


if __name__ == "__main__":
    main()

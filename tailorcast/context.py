"""What a template's expressions can see, for one customer or for one locale."""

from __future__ import annotations

from typing import Any, Mapping

from . import expressions, formatting
from .customers import Customer
from .errors import PaymentError
from .experiments import assign
from .payments.paylink import pay_link
from .spec.model import Template


def locale_context(template: Template, locale: str, strings_locale: str | None = None, variant: str | None = None) -> dict[str, Any]:
    """Names shared by every customer of a locale and variant (enough for a shared scene)."""
    sl = strings_locale or template.strings_locale(locale) or template.locales[0]
    return {
        "t": expressions.Strings(sl, template.strings[sl], variant),
        "brand": template.brand.context(),
        "locale": locale,
        "lang": formatting.language(locale),
        "dir": formatting.direction(locale),
        "contact": template.contact.context(),
        "template": {"name": template.name, "title": template.title, "version": template.version},
        "variant": variant or "",
    }


def choose_variant(template: Template, values: Mapping[str, Any], locale: str | None = None, strings_locale: str | None = None) -> str | None:
    """The first variant whose rule matches the row (a rule-less variant always matches), unless the
    customer's experiment arm imposes another (:func:`tailorcast.experiments.assign`).

    Rules see what every expression sees, except ``variant`` itself and ``pay_link``.
    """
    if not template.variants:
        return None
    loc = locale or values.get("locale") or template.locales[0]
    ctx = {**locale_context(template, loc, strings_locale), **values}
    ctx.pop("variant", None)
    chosen = next((v.name for v in template.variants if v.when is None or expressions.evaluate_condition(v.when, ctx)), None)
    if template.experiment is not None:  # an arm with a variant replaces the rules' choice (within: run)
        chosen = assign(template.experiment, str(values.get("customer_id") or ""), chosen).variant
    return chosen


def customer_context(template: Template, customer: Customer, pay_key: bytes | None = None, token: str = "") -> dict[str, Any]:
    """Everything one customer's expressions see. ``pay_key``/``token`` sign the pay link (run time)."""
    variant = choose_variant(template, customer.values, customer.locale, customer.strings_locale)
    ctx = locale_context(template, customer.locale, customer.strings_locale, variant)
    ctx.update(customer.values)
    ctx["row_number"] = customer.row
    try:
        ctx["pay_link"] = pay_link(template, ctx, pay_key, token)
    except PaymentError as exc:
        raise expressions.ExpressionError(template.payment.link, f"no pay link: {exc}") from exc
    return ctx

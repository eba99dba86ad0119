"""Tailorcast: personalized bill-explainer videos and pay-now microsites.

The front door (CLI, settings) and the shared language of the project: errors,
the template spec, customer rows, locale formatting, tokens, bucket keys and
the bucket interface.
"""

__version__ = "0.1.0"

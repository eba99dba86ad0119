"""Everything the customer opens: the static page builder, its assets, and the small servers."""

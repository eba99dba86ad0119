"""The billing run: Ray fan-out, the one-customer job, publishing, manifest, resume."""

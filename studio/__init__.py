"""The studio: the staff Flask app where marketing designs, previews and approves templates and operators start runs.

Its own factory (:func:`studio.app.create_studio_app`), its own config, 127.0.0.1 by
default, never on the public server's origin. Reference: docs/studio.md.
"""

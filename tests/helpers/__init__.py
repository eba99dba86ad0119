"""What the tests share, written once, one module per concept (fixtures live in conftest.py):

- ``samples``: the repository's sample templates and rows, template copies to break;
- ``runs``: billing runs published to a folder, their manifests, a clean-decode check of a video;
- ``web``: a WSGI app (a folder, a published site, the public server) served on 127.0.0.1;
- ``browser``: Playwright pages on emulated phones, with what they logged;
- ``pictures``: SSIM and QR decoding;
- ``tiers``: which mark a test needs for the fixtures it uses;
- ``tiny``: a tiny template that renders real video in a fraction of a second;
- ``studio``: the studio on a fresh store, a user per role, a signed-in client that sends CSRF tokens.
"""

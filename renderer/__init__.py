"""Everything that makes pixels and video: overlays, compositing, encoding, cache, captions."""

RENDERER_VERSION = "1"

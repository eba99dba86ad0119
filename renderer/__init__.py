"""Everything that makes pixels and video: overlays, compositing, encoding, cache, captions."""

RENDERER_VERSION = "2"  # 2: held frames appended as skip frames

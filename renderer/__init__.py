"""Everything that makes pixels and video: overlays, compositing, encoding, cache, captions."""

RENDERER_VERSION = "3"  # 2: held frames appended as skip frames; 3: BT.709, tagged

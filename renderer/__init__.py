"""Everything that makes pixels and video: overlays, compositing, encoding, cache, captions."""

RENDERER_VERSION = "8"  # 2: held frames appended as skip frames; 3: BT.709, tagged; 4: clip scenes through the ffmpeg graph, cropped then scaled; 5: supersampled stills reduced by a box filter; 6: shared scenes with superfast's motion search, a clip sized and converted in one scaler pass; 7: lines never break at a no-break space; 8: a live page's stills packed in one sheet per rendition (o/<rendition>.webp): a rerun rebuilds live pages

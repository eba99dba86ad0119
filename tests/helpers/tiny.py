"""A tiny template (96x64 and 64x96, 10 fps, 1.4 s) for tests that render real video in a fraction of a second."""

from __future__ import annotations

import textwrap
from pathlib import Path

def tiny_yaml(name: str, color: str, video: str, scenes: str) -> str:
    """A tiny template.yaml: one locale (en), the fields customer_id, locale and first_name, ``video`` and ``scenes``
    (YAML, indented as under their key)."""
    return textwrap.dedent(f"""
        name: {name}
        version: 1
        locales: [en]
        brand: {{name: {name.title()}, color: "{color}", accent: "#FFB703"}}
        fields:
          customer_id: {{type: text, required: true}}
          locale: {{type: locale, required: true}}
          first_name: {{type: text, required: true}}
        page: page.html
    """) + "video:\n" + textwrap.indent(textwrap.dedent(video).strip("\n"), "  ") + "\nscenes:\n" + textwrap.indent(textwrap.dedent(scenes).strip("\n"), "  ") + "\n"


TINY = tiny_yaml("tiny", "#102030", video="""
    fps: 10
    renditions:
      wide: {width: 96, height: 64}
      tall: {width: 64, height: 96}
    profile: {preset: ultrafast, crf: 30}
""", scenes="""
    - id: hello
      duration: 0.6
      layers:
        - {type: text, text: "{{ t('hi') }}", box: {x: 0.5, y: 0.5, w: 0.9, h: 0.4}, enter: fade}
      say: ["{{ t('hi') }}"]
    - id: name
      duration: 0.8
      background: {color: "#203040"}
      layers:
        - {type: text, text: "{{ first_name }}", box: {x: 0.5, y: 0.5, w: 0.9, h: 0.4}, enter: {effect: pop, duration: 0.3}, exit: {effect: fade, duration: 0.3}}
        - {type: shape, box: {x: 0.5, y: 0.9, w: 1, h: 0.1}, style: {fill: "#FFB703"}}
      say: ["{{ first_name }}"]
""")
STRINGS = "hi: Hi\n"
PAGE = textwrap.dedent("""\
    <!doctype html>
    <html lang="{{ lang }}"><head><title>{{ t('hi') }}</title><link rel="stylesheet" href="{{ media.css }}"></head>
    <body><p>{{ first_name }}</p><video src="{{ media.video }}" poster="{{ media.poster }}"></video>
    {{ player }}<script src="{{ media.js }}"></script></body></html>
""")


def write_tiny(folder: Path, template_yaml: str = TINY, page: str = PAGE) -> Path:
    """The tiny template's folder (template.yaml, strings/en.yaml, page.html), ready for load_template."""
    (folder / "strings").mkdir(parents=True)
    (folder / "template.yaml").write_text(template_yaml)
    (folder / "strings" / "en.yaml").write_text(STRINGS)
    (folder / "page.html").write_text(page)
    return folder

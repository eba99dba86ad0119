"""A template: what it is and how it is checked.

    model       the frozen values a loaded template is made of (Template, Scene, Layer,
                VideoSpec, Brand, Payment, Contact …) and the names of the language
                (field types, effects, layer types, context names)
    load        load_template(folder): YAML with line numbers, the JSON Schema, then the
                section checks; every problem reported at once in one TemplateError
    sections    one check per section of template.yaml (fields, strings, brand, video,
                variants, scenes and layers, sounds, payment, page)

Encoder settings are the renderer's: the spec keeps the profile's name and overrides,
renderer/profiles.py turns them into x264 settings.
"""

"""A template, loaded and checked once, before any work starts.

``load_template(folder)`` reads ``template.yaml``, validates it against the
published JSON Schema (``tailorcast/schema/template.schema.json``), then checks
what a schema cannot, one section at a time (:mod:`tailorcast.spec.sections`):
assets exist inside their folders, expressions parse and name only declared
fields, layers fit their scenes, every locale has every string. All problems
are reported at once in one ``TemplateError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from .. import budget
from ..budget import OutOfMemory, OutOfTime
from ..errors import Problem, TemplateError
from ..expressions import EVAL_MEMORY
from ..paths import SCHEMA_PATH
from ..yamlpos import Located, load_located
from . import sections
from .model import EFFECTS, Template, VideoSpec


CHECK_SECONDS = 10.0  # CPU seconds reading and checking one template may take; the samples take 0.1 s


def load_template(folder: Path | str) -> Template:
    root = Path(folder).resolve()
    name = root.name
    spec_path = root / "template.yaml"
    if not spec_path.is_file():
        raise TemplateError(name, [Problem(str(spec_path), "no template.yaml here; is this a template folder?")])
    def check() -> Template:
        try:
            doc = load_located(spec_path, "template.yaml")
        except yaml.YAMLError as exc:
            raise TemplateError(name, [Problem("template.yaml", f"not valid YAML: {exc}")]) from exc
        problems = _schema_problems(doc)
        if problems:
            raise TemplateError(name, problems)
        return _build(root, doc)

    try:  # staff edit templates in the studio's browser: bounded like a row
        return budget.run(check, CHECK_SECONDS, EVAL_MEMORY)
    except OutOfTime:
        raise TemplateError(name, [Problem("template.yaml", f"checking this template took more than {CHECK_SECONDS:g} s of CPU "
                                           "(the samples take 0.1 s): its texts, conditions or page are far too long or too "
                                           "nested; shorten them")]) from None
    except OutOfMemory:
        raise TemplateError(name, [Problem("template.yaml", f"checking this template needed more than {EVAL_MEMORY // 2**20} MiB "
                                           "of memory; its files are far too large")]) from None


def _build(root: Path, doc: Located) -> Template:
    """The sections in the order their problems are reported."""
    d, v = doc.data, doc.data["video"]
    c = sections.Check(root, doc)
    fields = sections.fields(c, d["fields"])
    locales = sections.locales(c, d["locales"], d.get("fallback_locale"))
    strings = sections.strings(c, locales)
    brand = sections.brand(c, d.get("brand"))
    renditions, default_rendition = sections.renditions(c, v["renditions"], v.get("default_rendition"))
    profile, profile_settings = sections.profile(v.get("profile"))
    variants = sections.variants(c, d.get("variants"))
    experiment = sections.experiment(c, d.get("experiment"), variants, fields)
    music = sections.music(c, v.get("music"))
    bake = bool(v.get("bake", True))
    live = bool(v.get("live", False)) or not bake  # without a baked video the page can only play live
    scenes = sections.scenes(c, d["scenes"], brand, [r.name for r in renditions], live)
    payment = sections.payment(c, d.get("payment"))
    page = sections.page(c, d.get("page"))
    poster_scene, poster_at = sections.poster(c, v.get("poster"), [s.id for s in scenes])
    sections.string_keys(c, strings)
    if c.problems:
        raise TemplateError(d["name"], c.problems)
    return Template(
        name=d["name"],
        title=d.get("title", d["name"]),
        version=int(d["version"]),
        root=root,
        locales=locales,
        fallback_locale=d.get("fallback_locale"),
        brand=brand,
        fields=fields,
        payment=payment,
        contact=sections.contact(d.get("contact")),
        page=page,
        video=VideoSpec(int(v["fps"]), profile, music, poster_scene, poster_at, renditions, default_rendition, live, profile_settings, bake),
        scenes=scenes,
        strings=strings,
        content_hash=_hash_tree(root, c.assets),
        variants=variants,
        experiment=experiment,
    )


@lru_cache(maxsize=256)
def _ecma_regex(pattern: str) -> re.Pattern:
    """A JSON Schema pattern (ECMA-262) as Python reads it: ECMA's ``$`` is the end of the text, Python's
    also accepts a newline before it, so a final unescaped ``$`` becomes ``\\Z`` ("x\\n" is no name)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _ecma_pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with ECMA-262's end anchor (jsonschema itself uses re.search, whose $ accepts "x\n").
_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _ecma_pattern})


def _schema_problems(doc: Located) -> list[Problem]:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = _Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(doc.data), key=lambda e: (doc.line(e.absolute_path) or 0, str(e.message))):
        path = list(err.absolute_path)
        problems.append(Problem(doc.where(path) if path else doc.filename, _explain(err)))
    return problems


def _explain(err: jsonschema.ValidationError) -> str:
    v = err.validator
    if v == "required":
        return f"{err.message}; add it (see docs/templates.md)"
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        return f"{err.message}; allowed keys here: {', '.join(allowed)}"
    if v == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    if v == "oneOf" and "effect" in json.dumps(err.schema):
        return f"{err.instance!r} is not an animation; use one of {', '.join(EFFECTS)} or {{effect: fade, duration: 0.4}}"
    if v == "oneOf" and "audio_bitrate" in json.dumps(err.schema):
        settings = [e for e in err.context or () if e.relative_schema_path[0] == 1]
        if isinstance(err.instance, dict) and settings:
            return _explain(settings[0])
        names = err.schema["oneOf"][0]["enum"]
        return f"{err.instance!r} is not an encoder profile; use one of {', '.join(names)}, or settings like {{name: small, crf: 24}}"
    if v == "pattern":
        return f"{err.instance!r} has the wrong form (expected to match {err.validator_value})"
    return err.message


def _hash_tree(root: Path, extra: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        if path.suffix in (".csv", ".jsonl", ".parquet") or path.name.startswith("."):
            continue  # customer data is not part of the template
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for path in sorted(set(extra)):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()

"""A template, loaded and checked once, before any work starts.

``load_template(folder)`` reads ``template.yaml``, validates it against the
published JSON Schema (``tailorcast/schema/template.schema.json``), then checks
what a schema cannot: assets exist inside their folders, expressions parse and
name only declared fields, layers fit their scenes, every locale has every
string. All problems are reported at once in one ``TemplateError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from . import expressions
from .errors import Problem, TemplateError
from .formatting import parse_locale
from .paths import SCHEMA_PATH, resolve_asset
from .yamlpos import Located, load_located

FIELD_TYPES = ("text", "integer", "decimal", "money", "date", "locale", "email", "numbers")
EFFECTS = ("none", "fade", "slide-left", "slide-right", "slide-up", "slide-down", "pop", "wipe")
LAYER_TYPES = ("text", "image", "chart", "qr", "button", "shape")
DEFAULT_ANIMATION_S = 0.5
# Names every expression may use besides the template's fields.
CONTEXT_NAMES = frozenset({"t", "brand", "locale", "lang", "dir", "contact", "template", "pay_link", "row_number", "variant", "rendition"})
_T_KEY = re.compile(r"""\bt\(\s*['"]([A-Za-z0-9_.-]+)['"]""")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    default: Any = None
    length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    anchor: str = "center"

    def mirrored(self) -> "Box":
        """The same box in a right-to-left layout: x flipped, left and right anchors swapped."""
        swap = {"left": "right", "right": "left"}
        anchor = "-".join(swap.get(part, part) for part in self.anchor.split("-"))
        return Box(1.0 - self.x, self.y, self.w, self.h, anchor)

    def fractions(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) as fractions of the frame."""
        ax = 0.0 if "left" in self.anchor else 1.0 if "right" in self.anchor else 0.5
        ay = 0.0 if "top" in self.anchor else 1.0 if "bottom" in self.anchor else 0.5
        left, top = self.x - ax * self.w, self.y - ay * self.h
        return left, top, left + self.w, top + self.h

    def rect(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, w, h) in pixels for a frame of ``width`` x ``height``."""
        w, h = round(self.w * width), round(self.h * height)
        left, top, _, _ = self.fractions()
        return round(left * width), round(top * height), max(1, w), max(1, h)


@dataclass(frozen=True)
class Animation:
    effect: str
    duration: float = DEFAULT_ANIMATION_S


NO_ANIMATION = Animation("none", 0.0)


@dataclass(frozen=True)
class Layer:
    index: int
    type: str
    box: Box
    style: Mapping[str, Any]
    start: float
    end: float | None
    enter: Animation
    exit: Animation
    when: str | None
    params: Mapping[str, Any]
    names: frozenset[str]
    layout: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # rendition → {box, style}
    mirror: bool = True  # flip horizontally in right-to-left locales

    def box_for(self, rendition: str, rtl: bool = False) -> Box:
        over = self.layout.get(rendition, {})
        box = Box(**over["box"]) if "box" in over else self.box
        return box.mirrored() if rtl and self.mirror else box

    def style_for(self, rendition: str) -> dict:
        return {**self.style, **self.layout.get(rendition, {}).get("style", {})}


@dataclass(frozen=True)
class Sound:
    path: Path
    at: float = 0.0  # seconds into the scene
    volume: float = 1.0


@dataclass(frozen=True)
class Scene:
    index: int
    id: str
    title: str | None
    duration: float
    when: str | None
    background: Mapping[str, Any]
    layers: tuple[Layer, ...]
    say: tuple[str, ...]
    names: frozenset[str]
    sounds: tuple["Sound", ...] = ()

    @property
    def shared(self) -> bool:
        """True when nothing in the scene reads customer data: one render per locale serves everyone."""
        return self.names <= expressions.SHARED_NAMES


@dataclass(frozen=True)
class EncoderProfile:
    """H.264 settings every segment of a template shares (they join by stream copy)."""

    preset: str = "veryfast"
    crf: int = 23
    profile: str = "high"
    audio_bitrate: str = "128k"
    name: str = "balanced"


# Named starting points: quality vs size vs speed (measured in bench/README.md).
PROFILES = {
    "balanced": EncoderProfile(),
    "small": EncoderProfile(preset="medium", crf=26, audio_bitrate="96k", name="small"),
    "fast": EncoderProfile(preset="superfast", crf=23, name="fast"),
}


def encoder_profile(raw) -> EncoderProfile:
    """``balanced`` / ``{name: small, crf: 24}`` / ``{preset: fast}`` → EncoderProfile."""
    if raw is None:
        return PROFILES["balanced"]
    if isinstance(raw, str):
        return PROFILES[raw]
    base = PROFILES[raw.get("name", "balanced")]
    return replace(base, **{k: v for k, v in raw.items() if k != "name"})


@dataclass(frozen=True)
class Music:
    path: Path
    volume: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int

    @property
    def orientation(self) -> str:
        return "portrait" if self.height > self.width else "landscape" if self.width > self.height else "square"


@dataclass(frozen=True)
class VideoSpec:
    fps: int
    profile: EncoderProfile
    music: Music | None
    poster_scene: str | None
    poster_at: float | None
    renditions: tuple[Rendition, ...]
    default_rendition: str
    live: bool = False  # the page plays the shared base video and draws the overlays (renderer/live.py)

    def rendition(self, name: str | None = None) -> Rendition:
        name = name or self.default_rendition
        for r in self.renditions:
            if r.name == name:
                return r
        raise KeyError(f"no rendition {name!r}; this template has {', '.join(r.name for r in self.renditions)}")


@dataclass(frozen=True)
class Variant:
    name: str
    when: str | None  # None: the default, chosen when no rule before it matches


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    version: int
    root: Path
    locales: tuple[str, ...]
    fallback_locale: str | None
    brand: Mapping[str, Any]
    fields: tuple[Field, ...]
    payment: Mapping[str, Any]
    contact: Mapping[str, Any]
    page: Path
    video: VideoSpec
    scenes: tuple[Scene, ...]
    strings: Mapping[str, Mapping[str, Any]]
    content_hash: str = field(compare=False)
    variants: tuple[Variant, ...] = ()

    @cached_property
    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def scene(self, scene_id: str) -> Scene:
        for s in self.scenes:
            if s.id == scene_id:
                return s
        raise KeyError(f"template '{self.name}' has no scene {scene_id!r}; it has {[s.id for s in self.scenes]}")

    def strings_locale(self, locale: str) -> str | None:
        """The strings table a customer's locale uses: exact, then language, then the fallback."""
        if locale in self.strings:
            return locale
        lang = locale.replace("-", "_").split("_")[0]
        if lang in self.strings:
            return lang
        return self.fallback_locale


def _animation(raw: Any) -> Animation:
    if raw is None:
        return NO_ANIMATION
    if isinstance(raw, str):
        return Animation(raw, 0.0 if raw == "none" else DEFAULT_ANIMATION_S)
    return Animation(raw["effect"], float(raw.get("duration", DEFAULT_ANIMATION_S)))


def _schema_problems(doc: Located) -> list[Problem]:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
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
    if v == "pattern":
        return f"{err.instance!r} has the wrong form (expected to match {err.validator_value})"
    return err.message


def _strings(root: Path, locales: list[str], problems: list[Problem]) -> dict[str, dict]:
    out = {}
    for loc in locales:
        path = root / "strings" / f"{loc}.yaml"
        if not path.is_file():
            problems.append(Problem(f"strings/{loc}.yaml", f"missing; locale '{loc}' is listed in locales: add the file or remove the locale"))
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            problems.append(Problem(f"strings/{loc}.yaml", f"not valid YAML ({exc})"))
            continue
        if not isinstance(data, dict):
            problems.append(Problem(f"strings/{loc}.yaml", "must be a mapping of key: text"))
            continue
        out[loc] = data
    return out


def _hash_tree(root: Path, extra: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        if path.suffix in (".csv", ".jsonl", ".parquet") or path.name.startswith("."):
            continue  # customer data is not part of the template
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for path in sorted(set(extra)):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def load_template(folder: Path | str) -> Template:
    root = Path(folder).resolve()
    name = root.name
    spec_path = root / "template.yaml"
    if not spec_path.is_file():
        raise TemplateError(name, [Problem(str(spec_path), "no template.yaml here; is this a template folder?")])
    try:
        doc = load_located(spec_path, "template.yaml")
    except yaml.YAMLError as exc:
        raise TemplateError(name, [Problem("template.yaml", f"not valid YAML: {exc}")]) from exc
    problems = _schema_problems(doc)
    if problems:
        raise TemplateError(name, problems)
    return _build(root, doc)


def _build(root: Path, doc: Located) -> Template:
    d = doc.data
    name = d["name"]
    problems: list[Problem] = []
    assets: list[Path] = []

    def asset(ref: str, path: tuple) -> Path:
        try:
            p = resolve_asset(root, ref)
        except ValueError as exc:
            problems.append(Problem(doc.where(path), str(exc)))
            return root / "missing"
        if not p.is_file():
            problems.append(Problem(doc.where(path), f"asset {ref!r} not found at {p}; add the file or fix the path"))
        else:
            assets.append(p)
        return p

    fields = tuple(
        Field(k, v["type"], bool(v.get("required", False)), v.get("default"), v.get("length"), v.get("max_length"))
        for k, v in d["fields"].items()
    )
    fmap = {f.name: f for f in fields}
    for must, ftype in (("customer_id", "text"), ("locale", "locale")):
        if must not in fmap:
            problems.append(Problem(doc.where(("fields",)), f"field '{must}' is missing; every row needs it (type: {ftype})"))
    for f in fields:
        if f.type == "numbers" and not f.length:
            problems.append(Problem(doc.where(("fields", f.name)), "a numbers field needs length: (how many values)"))

    locales = list(d["locales"])
    for i, loc in enumerate(locales):
        try:
            parse_locale(loc)
        except ValueError as exc:
            problems.append(Problem(doc.where(("locales", i)), str(exc)))
    fallback = d.get("fallback_locale")
    if fallback is not None and fallback not in locales:
        problems.append(Problem(doc.where(("fallback_locale",)), f"'{fallback}' is not in locales {locales}"))
    strings = _strings(root, locales, problems)

    known = CONTEXT_NAMES | set(fmap)
    sources: list[str] = []  # every expression, for the string-key check

    def names_of(src: str, path: tuple, condition: bool = False) -> frozenset[str]:
        sources.append(src)
        try:
            used = expressions.names_used(src, condition)
        except expressions.ExpressionError as exc:
            problems.append(Problem(doc.where(path), f"{exc}; fix the Jinja syntax"))
            return frozenset()
        for n in sorted(used - known):
            problems.append(Problem(doc.where(path), f"uses '{n}', which is not a field; declare it under fields: or fix the spelling (fields: {', '.join(sorted(fmap))})"))
        return used

    brand = dict(d.get("brand") or {})
    if "logo" in brand:
        brand["logo_path"] = asset(brand["logo"], ("brand", "logo"))

    v = d["video"]
    prof = encoder_profile(v.get("profile"))
    renditions = tuple(Rendition(n, int(r["width"]), int(r["height"])) for n, r in v["renditions"].items())
    rendition_names = [r.name for r in renditions]
    default_rendition = v.get("default_rendition", rendition_names[0])
    if default_rendition not in rendition_names:
        problems.append(Problem(doc.where(("video", "default_rendition")), f"'{default_rendition}' is not a rendition; use one of {', '.join(rendition_names)}"))

    variants = []
    for vi, raw in enumerate(d.get("variants") or []):
        vw = raw.get("when")
        if vw:
            names_of(vw, ("variants", vi, "when"), condition=True)
        elif vi != len(d["variants"]) - 1:
            problems.append(Problem(doc.where(("variants", vi)), f"variant '{raw['name']}' has no when: and is not last; only the last variant may be the default"))
        variants.append(Variant(raw["name"], vw))
    if len({x.name for x in variants}) != len(variants):
        problems.append(Problem(doc.where(("variants",)), "variant names must be unique"))
    music = None
    if v.get("music"):
        m = v["music"]
        music = Music(asset(m["src"], ("video", "music", "src")), float(m.get("volume", 1.0)), float(m.get("fade_in", 0)), float(m.get("fade_out", 0)))

    scenes = []
    ids = set()
    for si, s in enumerate(d["scenes"]):
        sp = ("scenes", si)
        if s["id"] in ids:
            problems.append(Problem(doc.where(sp + ("id",)), f"scene id '{s['id']}' is used twice; scene ids must be unique"))
        ids.add(s["id"])
        duration = float(s["duration"])
        used: set[str] = set()
        when = s.get("when")
        if when:
            used |= names_of(when, sp + ("when",), condition=True)
        bg = dict(s.get("background") or {"color": brand.get("color", "#000000")})
        if "image" in bg:
            bg["image_path"] = asset(bg["image"], sp + ("background", "image"))
        if "video" in bg:
            bg["video_path"] = asset(bg["video"], sp + ("background", "video"))
        if "color" in bg:
            bg_names = names_of(bg["color"], sp + ("background", "color"))
            used |= bg_names
            if v.get("live") and bg_names - expressions.SHARED_NAMES:
                problems.append(Problem(doc.where(sp + ("background", "color")), f"scene '{s['id']}': with video.live the background is in the shared base video, so its colour cannot read {', '.join(sorted(bg_names - expressions.SHARED_NAMES))}; use a shape layer for a personal colour, or turn live off"))
        say = tuple(s.get("say") or ())
        for k, line in enumerate(say):
            used |= names_of(line, sp + ("say", k))
        if s.get("title"):
            used |= names_of(s["title"], sp + ("title",))
        layers = []
        for li, raw in enumerate(s.get("layers") or []):
            lp = sp + ("layers", li)
            lused: set[str] = set()
            ltype = raw["type"]
            params = {k: raw[k] for k in ("text", "src", "data", "values", "kind", "labels", "last_month", "highlight", "average", "unit") if k in raw}
            style = dict(raw.get("style") or {})
            for key in ("text", "data"):
                if key in params:
                    lused |= names_of(params[key], lp + (key,))
            for key in ("color", "fill"):
                if key in style:
                    lused |= names_of(style[key], lp + ("style", key))
            need = {"text": "text", "button": "text", "image": "src", "qr": "data", "chart": "values"}.get(ltype)
            if need and need not in params:
                problems.append(Problem(doc.where(lp), f"a {ltype} layer needs '{need}:'"))
            if ltype == "image" and "src" in params:
                params["src_path"] = asset(params["src"], lp + ("src",))
            if ltype == "chart" and "values" in params:
                fname = params["values"]
                f = fmap.get(fname)
                if f is None or f.type != "numbers":
                    problems.append(Problem(doc.where(lp + ("values",)), f"'{fname}' is not a numbers field; chart values: must name one"))
                lused.add(fname)
                if params.get("labels", "months") == "months":
                    lm = params.get("last_month")
                    if not lm or fmap.get(lm) is None or fmap[lm].type != "date":
                        problems.append(Problem(doc.where(lp + ("last_month",)), "month labels need last_month: naming a date field"))
                    else:
                        lused.add(lm)
            lwhen = raw.get("when")
            if lwhen:
                lused |= names_of(lwhen, lp + ("when",), condition=True)
            start = float(raw.get("start", 0.0))
            end = float(raw["end"]) if raw.get("end") is not None else None
            enter, exit_ = _animation(raw.get("enter")), _animation(raw.get("exit"))
            stop = end if end is not None else duration
            if stop > duration + 1e-9:
                problems.append(Problem(doc.where(lp + ("end",)), f"layer {li} ends at {stop:g} s but scene '{s['id']}' lasts {duration:g} s; shorten the layer or lengthen the scene"))
            if start >= stop:
                what = f"its end ({stop:g} s); start it earlier or end it later" if end is not None else f"scene '{s['id']}' ends ({duration:g} s); start it earlier or lengthen the scene"
                problems.append(Problem(doc.where(lp + ("start",)), f"layer {li} starts at {start:g} s, not before {what}"))
            elif enter.duration + exit_.duration > stop - start + 1e-9:
                problems.append(Problem(doc.where(lp), f"layer {li}: enter ({enter.duration:g} s) and exit ({exit_.duration:g} s) animations are longer than the layer is shown ({stop - start:g} s); shorten them"))
            box = Box(**raw["box"])
            layout = {}
            for rname, over in (raw.get("layout") or {}).items():
                if rname not in rendition_names:
                    problems.append(Problem(doc.where(lp + ("layout", rname)), f"no rendition '{rname}'; use one of {', '.join(rendition_names)}"))
                    continue
                layout[rname] = dict(over)
                for key in ("color", "fill"):
                    if key in over.get("style", {}):
                        lused |= names_of(over["style"][key], lp + ("layout", rname, "style", key))
            layer = Layer(li, ltype, box, style, start, end, enter, exit_, lwhen, params, frozenset(lused), layout, bool(raw.get("mirror", True)))
            for rname in rendition_names:
                l, t_, r, b = layer.box_for(rname).fractions()
                if l < -0.001 or t_ < -0.001 or r > 1.001 or b > 1.001:
                    where = lp + (("layout", rname, "box") if "box" in layout.get(rname, {}) else ("box",))
                    problems.append(Problem(doc.where(where), f"layer {li} of scene '{s['id']}' leaves the {rname} frame (left {l:.2f}, top {t_:.2f}, right {r:.2f}, bottom {b:.2f}; each must be within 0..1); move or shrink it, or add a layout: override for {rname}"))
            layers.append(layer)
            used |= lused
        sounds = []
        for k, snd in enumerate(s.get("sounds") or []):
            at = float(snd.get("at", 0.0))
            if at >= duration:
                problems.append(Problem(doc.where(sp + ("sounds", k, "at")), f"sound starts at {at:g} s but scene '{s['id']}' lasts {duration:g} s; start it earlier"))
            sounds.append(Sound(asset(snd["src"], sp + ("sounds", k, "src")), at, float(snd.get("volume", 1.0))))
        scenes.append(Scene(si, s["id"], s.get("title"), duration, when, bg, tuple(layers), say, frozenset(used), tuple(sounds)))

    payment = dict(d.get("payment") or {})
    if "link" in payment:
        names_of(payment["link"], ("payment", "link"))
    provider = payment.get("provider", "url")
    needed = {"signed": [("reference_field", "invoice_id", ("text",)), ("amount_field", "amount_due", ("money", "decimal")), ("due_field", "due_date", ("date",))],
              "stripe": [("reference_field", "invoice_id", ("text",))]}.get(provider, [])
    if "pagopa" in payment:
        needed.append(("notice_field", payment["pagopa"]["notice_field"], ("text",)))
    for key, default, types in needed:
        fname = payment.get(key, default) if key != "notice_field" else default
        f = fmap.get(fname)
        if f is None or f.type not in types:
            problems.append(Problem(doc.where(("payment", key)) if key in payment else doc.where(("payment",)),
                                    f"the {provider if key != 'notice_field' else 'pagopa'} payment needs a {'/'.join(types)} field '{fname}' ({key}); declare it under fields: or set {key}:"))
    page = root / d.get("page", "page.html")
    if not page.is_file():
        problems.append(Problem(doc.where(("page",)) if "page" in d else "template.yaml", f"page {page.name!r} not found in the template folder"))
    else:
        sources.append(page.read_text(encoding="utf-8"))

    poster = v.get("poster") or {}
    if poster and poster["scene"] not in ids:
        problems.append(Problem(doc.where(("video", "poster", "scene")), f"no scene '{poster['scene']}'; use one of {sorted(ids)}"))

    # every t('key') used anywhere must exist in every locale
    keys_used = sorted({k for src in sources for k in _T_KEY.findall(src)})
    for loc, table in strings.items():
        missing = [k for k in keys_used if k not in table]
        if missing:
            problems.append(Problem(f"strings/{loc}.yaml", f"missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)}; add {'them' if len(missing) > 1 else 'it'} (every locale needs every key)"))

    if problems:
        raise TemplateError(name, problems)
    return Template(
        name=name,
        title=d.get("title", name),
        version=int(d["version"]),
        root=root,
        locales=tuple(locales),
        fallback_locale=fallback,
        brand=brand,
        fields=fields,
        payment=payment,
        contact=dict(d.get("contact") or {}),
        page=page,
        video=VideoSpec(int(v["fps"]), prof, music, poster.get("scene"), poster.get("at"), renditions, default_rendition, bool(v.get("live", False))),
        scenes=tuple(scenes),
        strings=strings,
        content_hash=_hash_tree(root, assets),
        variants=tuple(variants),
    )

"""What a JSON Schema cannot check, one section of ``template.yaml`` at a time.

Each check takes its part of the parsed YAML, returns the values it builds and
appends a :class:`~tailorcast.errors.Problem` (with the YAML line) for every
rule broken, so that :func:`tailorcast.spec.load.load_template` reports them
all at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from .. import expressions
from ..errors import PaymentError, Problem
from ..formatting import parse_locale
from ..paths import confined, resolve_asset
from ..payments.epc import check_account
from ..payments.pagopa import check_creditor
from ..yamlpos import Located, safe_load
from .model import (CONTEXT_NAMES, DEFAULT_ANIMATION_S, DEFAULT_PROFILE, NO_ANIMATION, Animation, Arm, Box, Brand, Contact, Epc, Experiment, Field,
                    Layer, Music, PagoPa, Payment, Rendition, Scene, Sound, Variant)

_T_KEY = re.compile(r"""\bt\(\s*['"]([A-Za-z0-9_.-]+)['"]""")
_LAYER_PARAMS = ("text", "src", "data", "values", "kind", "labels", "last_month", "highlight", "average", "unit")
_LAYER_NEEDS = {"text": "text", "button": "text", "image": "src", "qr": "data", "chart": "values"}
# The fields a payment provider reads from each row, and the types they must have.
_PAYMENT_FIELD_TYPES = {"reference_field": ("text",), "amount_field": ("money", "decimal"), "due_field": ("date",)}
_PROVIDER_FIELDS = {"signed": ("reference_field", "amount_field", "due_field"), "stripe": ("reference_field",)}


class Check:
    """What the section checks share: the YAML with its lines, the problems found, the assets read, the declared fields."""

    def __init__(self, root: Path, doc: Located) -> None:
        self.root = root
        self.doc = doc
        self.problems: list[Problem] = []
        self.assets: list[Path] = []  # every asset file read, for the content hash
        self.sources: list[str] = []  # every expression and the page, for the string-key check
        self.fields: dict[str, Field] = {}

    def problem(self, path: tuple, message: str) -> None:
        self.problems.append(Problem(self.doc.where(path), message))

    def asset(self, ref: str, path: tuple) -> Path:
        try:
            p = resolve_asset(self.root, ref)
        except ValueError as exc:
            self.problem(path, str(exc))
            return self.root / "missing"
        if not p.is_file():
            self.problem(path, f"asset {ref!r} not found at {p}; add the file or fix the path")
        else:
            self.assets.append(p)
        return p

    def names_of(self, src: str, path: tuple, condition: bool = False) -> frozenset[str]:
        """The names an expression reads; each one must be a field or a context name."""
        self.sources.append(src)
        try:
            used = expressions.names_used(src, condition)
            (expressions.compile_condition if condition else expressions.compile_text)(src)  # what parses may not compile
        except expressions.ExpressionError as exc:
            self.problem(path, f"{exc}; fix the Jinja syntax")
            return frozenset()
        for n in sorted(used - CONTEXT_NAMES - set(self.fields) - {"lipsum"}):
            self.problem(path, f"uses '{n}', which is not a field; declare it under fields: or fix the spelling (fields: {', '.join(sorted(self.fields))})")
        for why in expressions.refused(src, condition):
            self.problem(path, f"the sandbox refuses this for every row: {why}; compute less")
        return used


# --- fields, locales and strings ------------------------------------------------------------------


def fields(c: Check, raw: Mapping[str, Any]) -> tuple[Field, ...]:
    out = tuple(Field(k, v["type"], bool(v.get("required", False)), v.get("default"), v.get("length"), v.get("max_length")) for k, v in raw.items())
    c.fields = {f.name: f for f in out}
    for must, ftype in (("customer_id", "text"), ("locale", "locale")):
        if must not in c.fields:
            c.problem(("fields",), f"field '{must}' is missing; every row needs it (type: {ftype})")
    for f in out:
        if f.type == "numbers" and not f.length:
            c.problem(("fields", f.name), "a numbers field needs length: (how many values)")
    return out


def locales(c: Check, raw: list[str], fallback: str | None) -> tuple[str, ...]:
    for i, loc in enumerate(raw):
        try:
            parse_locale(loc)
        except ValueError as exc:
            c.problem(("locales", i), str(exc))
    if fallback is not None and fallback not in raw:
        c.problem(("fallback_locale",), f"'{fallback}' is not in locales {list(raw)}")
    return tuple(raw)


def strings(c: Check, locales: tuple[str, ...]) -> dict[str, dict]:
    """``strings/<locale>.yaml`` for every locale (problems name the file: it has no line in template.yaml)."""
    out = {}
    for loc in locales:
        try:
            path = confined(c.root, f"strings/{loc}.yaml", "strings file")
        except ValueError as exc:
            c.problems.append(Problem(f"strings/{loc}.yaml", str(exc)))
            continue
        if not path.is_file():
            c.problems.append(Problem(f"strings/{loc}.yaml", f"missing; locale '{loc}' is listed in locales: add the file or remove the locale"))
            continue
        try:
            data = safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            c.problems.append(Problem(f"strings/{loc}.yaml", f"not valid YAML ({exc})"))
            continue
        if not isinstance(data, dict):
            c.problems.append(Problem(f"strings/{loc}.yaml", "must be a mapping of key: text"))
            continue
        out[loc] = data
    return out


def string_keys(c: Check, tables: Mapping[str, Mapping[str, Any]]) -> None:
    """Every ``t('key')`` used anywhere (expressions and the page) must exist in every locale."""
    used = sorted({k for src in c.sources for k in _T_KEY.findall(src)})
    for loc, table in tables.items():
        missing = [k for k in used if k not in table]
        if missing:
            many = len(missing) > 1
            c.problems.append(Problem(f"strings/{loc}.yaml", f"missing key{'s' if many else ''} {', '.join(missing)}; add {'them' if many else 'it'} (every locale needs every key)"))


# --- brand and contact ----------------------------------------------------------------------------


def brand(c: Check, raw: Mapping[str, Any] | None) -> Brand:
    raw = dict(raw or {})
    logo_path = c.asset(raw["logo"], ("brand", "logo")) if "logo" in raw else None
    return Brand(**raw, logo_path=logo_path)


def contact(raw: Mapping[str, Any] | None) -> Contact:
    return Contact(**dict(raw or {}))


# --- video: renditions, encoder profile, music, poster -------------------------------------------


def renditions(c: Check, raw: Mapping[str, Any], default: str | None) -> tuple[tuple[Rendition, ...], str]:
    out = tuple(Rendition(n, int(r["width"]), int(r["height"])) for n, r in raw.items())
    names = [r.name for r in out]
    default = default or names[0]
    if default not in names:
        c.problem(("video", "default_rendition"), f"'{default}' is not a rendition; use one of {', '.join(names)}")
    return out, default


def profile(raw: str | Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The encoder profile's name and the settings that override it (the schema checked both)."""
    if raw is None or isinstance(raw, str):
        return raw or DEFAULT_PROFILE, {}
    return raw.get("name", DEFAULT_PROFILE), {k: v for k, v in raw.items() if k != "name"}


def music(c: Check, raw: Mapping[str, Any] | None) -> Music | None:
    if not raw:
        return None
    return Music(c.asset(raw["src"], ("video", "music", "src")), float(raw.get("volume", 1.0)), float(raw.get("fade_in", 0)), float(raw.get("fade_out", 0)))


def poster(c: Check, raw: Mapping[str, Any] | None, scene_ids: list[str]) -> tuple[str | None, float | None]:
    raw = raw or {}
    if raw and raw["scene"] not in scene_ids:
        c.problem(("video", "poster", "scene"), f"no scene '{raw['scene']}'; use one of {sorted(scene_ids)}")
    return raw.get("scene"), raw.get("at")


# --- variants -------------------------------------------------------------------------------------


def variants(c: Check, raw: list[Mapping[str, Any]] | None) -> tuple[Variant, ...]:
    raw = raw or []
    out = []
    for i, v in enumerate(raw):
        when = v.get("when")
        if when:
            c.names_of(when, ("variants", i, "when"), condition=True)
        elif i != len(raw) - 1:
            c.problem(("variants", i), f"variant '{v['name']}' has no when: and is not last; only the last variant may be the default")
        out.append(Variant(v["name"], when))
    if len({v.name for v in out}) != len(out):
        c.problem(("variants",), "variant names must be unique")
    return tuple(out)


# --- experiment -----------------------------------------------------------------------------------


def experiment(c: Check, raw: Mapping[str, Any] | None, variants: tuple[Variant, ...], fields: tuple[Field, ...]) -> Experiment | None:
    """``experiment:``: arms with unique names (not ``holdout``), variants the template has, a holdout share below 1."""
    if not raw:
        return None
    arms = tuple(Arm(a["name"], float(a.get("weight", 1)), a.get("variant")) for a in raw["arms"])
    within = raw.get("within", "run")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        c.problem(("experiment", "arms"), "arm names must be unique")
    known = {v.name for v in variants}
    for i, a in enumerate(arms):
        if a.name == "holdout":
            c.problem(("experiment", "arms", i, "name"), "'holdout' is the name of the holdout; give the arm another name and set experiment.holdout for a holdout")
        if a.variant is None:
            continue
        if within == "rule":
            c.problem(("experiment", "arms", i, "variant"), "with within: rule the variant rules choose the variant; remove the arm's variant, or use within: run")
        elif a.variant not in known:
            c.problem(("experiment", "arms", i, "variant"), f"no variant '{a.variant}'; use one of {sorted(known)} (variants:)")
    if len(arms) == 1 and not raw.get("holdout"):
        c.problem(("experiment",), "one arm and no holdout compares nothing; add an arm or a holdout share (holdout: 0.1)")
    if "customer_id" not in {f.name for f in fields}:
        c.problem(("experiment",), "an experiment assigns arms by customer id; declare the field customer_id under fields:")
    return Experiment(raw["id"], arms, float(raw.get("holdout", 0)), within, raw.get("planned_per_arm"), int(raw.get("horizon_days", 30)))


# --- scenes, layers and sounds --------------------------------------------------------------------


def scenes(c: Check, raw: list[Mapping[str, Any]], brand: Brand, rendition_names: list[str], live: bool) -> tuple[Scene, ...]:
    out = []
    ids: set[str] = set()
    for i, s in enumerate(raw):
        if s["id"] in ids:
            c.problem(("scenes", i, "id"), f"scene id '{s['id']}' is used twice; scene ids must be unique")
        ids.add(s["id"])
        out.append(_scene(c, i, s, brand, rendition_names, live))
    return tuple(out)


def _scene(c: Check, i: int, s: Mapping[str, Any], brand: Brand, rendition_names: list[str], live: bool) -> Scene:
    sp = ("scenes", i)
    duration = float(s["duration"])
    used: set[str] = set()
    when = s.get("when")
    if when:
        used |= c.names_of(when, sp + ("when",), condition=True)
    bg, bg_names = _background(c, sp, s, brand, live)
    used |= bg_names
    say = tuple(s.get("say") or ())
    for k, line in enumerate(say):
        used |= c.names_of(line, sp + ("say", k))
    if s.get("title"):
        used |= c.names_of(s["title"], sp + ("title",))
    layers = []
    for li, raw in enumerate(s.get("layers") or []):
        layer = _layer(c, sp + ("layers", li), li, raw, s["id"], duration, rendition_names)
        layers.append(layer)
        used |= layer.names
    sounds = _sounds(c, sp, s.get("sounds") or [], s["id"], duration)
    return Scene(i, s["id"], s.get("title"), duration, when, bg, tuple(layers), say, frozenset(used), sounds)


def _background(c: Check, sp: tuple, s: Mapping[str, Any], brand: Brand, live: bool) -> tuple[dict, frozenset[str]]:
    bg = dict(s.get("background") or {"color": brand.color})
    names: frozenset[str] = frozenset()
    if "image" in bg:
        bg["image_path"] = c.asset(bg["image"], sp + ("background", "image"))
    if "video" in bg:
        bg["video_path"] = c.asset(bg["video"], sp + ("background", "video"))
    if "color" in bg:
        names = c.names_of(bg["color"], sp + ("background", "color"))
        personal = names - expressions.SHARED_NAMES
        if live and personal:
            c.problem(sp + ("background", "color"), f"scene '{s['id']}': with video.live the background is in the shared base video, so its colour cannot read {', '.join(sorted(personal))}; use a shape layer for a personal colour, or turn live off")
    return bg, names


def _animation(raw: Any) -> Animation:
    if raw is None:
        return NO_ANIMATION
    if isinstance(raw, str):
        return Animation(raw, 0.0 if raw == "none" else DEFAULT_ANIMATION_S)
    return Animation(raw["effect"], float(raw.get("duration", DEFAULT_ANIMATION_S)))


def _layer(c: Check, lp: tuple, li: int, raw: Mapping[str, Any], scene_id: str, duration: float, rendition_names: list[str]) -> Layer:
    used: set[str] = set()
    ltype = raw["type"]
    params = {k: raw[k] for k in _LAYER_PARAMS if k in raw}
    style = dict(raw.get("style") or {})
    for key in ("text", "data"):
        if key in params:
            used |= c.names_of(params[key], lp + (key,))
    for key in ("color", "fill"):
        if key in style:
            used |= c.names_of(style[key], lp + ("style", key))
    need = _LAYER_NEEDS.get(ltype)
    if need and need not in params:
        c.problem(lp, f"a {ltype} layer needs '{need}:'")
    if ltype == "image" and "src" in params:
        params["src_path"] = c.asset(params["src"], lp + ("src",))
    if ltype == "chart" and "values" in params:
        used |= _chart_fields(c, lp, params)
    when = raw.get("when")
    if when:
        used |= c.names_of(when, lp + ("when",), condition=True)
    start = float(raw.get("start", 0.0))
    end = float(raw["end"]) if raw.get("end") is not None else None
    enter, exit_ = _animation(raw.get("enter")), _animation(raw.get("exit"))
    _timing(c, lp, li, scene_id, duration, start, end, enter, exit_)
    layout = {}
    for rname, over in (raw.get("layout") or {}).items():
        if rname not in rendition_names:
            c.problem(lp + ("layout", rname), f"no rendition '{rname}'; use one of {', '.join(rendition_names)}")
            continue
        layout[rname] = dict(over)
        for key in ("color", "fill"):
            if key in over.get("style", {}):
                used |= c.names_of(over["style"][key], lp + ("layout", rname, "style", key))
    layer = Layer(li, ltype, Box(**raw["box"]), style, start, end, enter, exit_, when, params, frozenset(used), layout, bool(raw.get("mirror", True)))
    _inside_frames(c, lp, layer, scene_id, rendition_names)
    return layer


def _chart_fields(c: Check, lp: tuple, params: Mapping[str, Any]) -> set[str]:
    fname = params["values"]
    f = c.fields.get(fname)
    if f is None or f.type != "numbers":
        c.problem(lp + ("values",), f"'{fname}' is not a numbers field; chart values: must name one")
    used = {fname}
    if params.get("labels", "months") == "months":
        lm = params.get("last_month")
        if not lm or c.fields.get(lm) is None or c.fields[lm].type != "date":
            c.problem(lp + ("last_month",), "month labels need last_month: naming a date field")
        else:
            used.add(lm)
    return used


def _timing(c: Check, lp: tuple, li: int, scene_id: str, duration: float, start: float, end: float | None, enter: Animation, exit_: Animation) -> None:
    stop = end if end is not None else duration
    if stop > duration + 1e-9:
        c.problem(lp + ("end",), f"layer {li} ends at {stop:g} s but scene '{scene_id}' lasts {duration:g} s; shorten the layer or lengthen the scene")
    if start >= stop:
        what = f"its end ({stop:g} s); start it earlier or end it later" if end is not None else f"scene '{scene_id}' ends ({duration:g} s); start it earlier or lengthen the scene"
        c.problem(lp + ("start",), f"layer {li} starts at {start:g} s, not before {what}")
    elif enter.duration + exit_.duration > stop - start + 1e-9:
        c.problem(lp, f"layer {li}: enter ({enter.duration:g} s) and exit ({exit_.duration:g} s) animations are longer than the layer is shown ({stop - start:g} s); shorten them")


def _inside_frames(c: Check, lp: tuple, layer: Layer, scene_id: str, rendition_names: list[str]) -> None:
    for rname in rendition_names:
        left, top, right, bottom = layer.box_for(rname).fractions()
        if left < -0.001 or top < -0.001 or right > 1.001 or bottom > 1.001:
            where = lp + (("layout", rname, "box") if "box" in layer.layout.get(rname, {}) else ("box",))
            c.problem(where, f"layer {layer.index} of scene '{scene_id}' leaves the {rname} frame (left {left:.2f}, top {top:.2f}, right {right:.2f}, bottom {bottom:.2f}; "
                             f"each must be within 0..1); move or shrink it, or add a layout: override for {rname}")


def _sounds(c: Check, sp: tuple, raw: list[Mapping[str, Any]], scene_id: str, duration: float) -> tuple[Sound, ...]:
    out = []
    for k, snd in enumerate(raw):
        at = float(snd.get("at", 0.0))
        if at >= duration:
            c.problem(sp + ("sounds", k, "at"), f"sound starts at {at:g} s but scene '{scene_id}' lasts {duration:g} s; start it earlier")
        out.append(Sound(c.asset(snd["src"], sp + ("sounds", k, "src")), at, float(snd.get("volume", 1.0))))
    return tuple(out)


# --- payment and page -----------------------------------------------------------------------------


def payment(c: Check, raw: Mapping[str, Any] | None) -> Payment:
    raw = dict(raw or {})
    epc = Epc(**raw.pop("epc")) if "epc" in raw else None
    pagopa = PagoPa(**raw.pop("pagopa")) if "pagopa" in raw else None
    p = Payment(**raw, epc=epc, pagopa=pagopa)
    if p.link:
        c.names_of(p.link, ("payment", "link"))
    for key in _PROVIDER_FIELDS.get(p.provider, ()):
        _payment_field(c, ("payment", key) if key in raw else ("payment",), p.provider, key, getattr(p, key), _PAYMENT_FIELD_TYPES[key])
    if pagopa:
        _payment_field(c, ("payment", "pagopa", "notice_field"), "pagopa", "notice_field", pagopa.notice_field, ("text",))
        try:
            check_creditor(pagopa.creditor, "creditor")
        except PaymentError as exc:
            c.problem(("payment", "pagopa", "creditor"), exc.message)
    if epc:
        try:
            check_account(epc.name, epc.iban, epc.bic)
        except PaymentError as exc:
            c.problem(("payment", "epc", exc.field), exc.message)
    return p


def _payment_field(c: Check, path: tuple, what: str, key: str, name: str, types: tuple[str, ...]) -> None:
    f = c.fields.get(name)
    if f is None or f.type not in types:
        c.problem(path, f"the {what} payment needs a {'/'.join(types)} field '{name}' ({key}); declare it under fields: or set {key}:")


def page(c: Check, name: str | None) -> Path:
    try:
        path = confined(c.root, name or "page.html", "page")
    except ValueError as exc:
        c.problems.append(Problem(c.doc.where(("page",)), str(exc)))
        return c.root / "page.html"
    if not path.is_file():
        c.problems.append(Problem(c.doc.where(("page",)) if name else "template.yaml", f"page {path.name!r} not found in the template folder"))
    else:
        source = path.read_text(encoding="utf-8")
        c.sources.append(source)
        where = c.doc.where(("page",)) if name else "template.yaml"
        for why in expressions.refused(source):
            c.problems.append(Problem(where, f"page {path.name!r}: the sandbox refuses this for every row: {why}; compute less"))
        loader, relative = expressions.FolderLoader(c.root), path.relative_to(c.root.resolve()).as_posix()
        cycle = expressions.include_cycle(loader, relative)
        if cycle:
            c.problems.append(Problem(where, f"page {path.name!r} includes itself ({' → '.join(cycle)}); remove the include that closes the loop"))
        for why in expressions.page_problems(loader, relative):
            c.problems.append(Problem(where, f"page {why}; fix the page's Jinja"))
    return path

"""What a loaded template is: frozen values, checked once by :mod:`tailorcast.spec.load`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from .. import expressions
from ..payments.amounts import DEFAULT_CURRENCY

FIELD_TYPES = ("text", "integer", "decimal", "money", "date", "locale", "email", "numbers")
EFFECTS = ("none", "fade", "slide-left", "slide-right", "slide-up", "slide-down", "pop", "wipe")
LAYER_TYPES = ("text", "image", "chart", "qr", "button", "shape")
DEFAULT_ANIMATION_S = 0.5
# Names every expression may use besides the template's fields.
CONTEXT_NAMES = frozenset({"t", "brand", "locale", "lang", "dir", "contact", "template", "pay_link", "row_number", "variant", "rendition"})
DEFAULT_PROFILE = "balanced"  # the encoder profile a template gets without video.profile (renderer/profiles.py)


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
    profile: str  # the encoder profile's name; renderer/profiles.py turns it into x264 settings
    music: Music | None
    poster_scene: str | None
    poster_at: float | None
    renditions: tuple[Rendition, ...]
    default_rendition: str
    live: bool = False  # the page plays the shared base video and draws the live stills (renderer/live.py)
    profile_settings: Mapping[str, Any] = field(default_factory=dict)  # preset/crf/profile/audio_bitrate over the named profile
    bake: bool = True  # False: no per-customer video; the page plays the base video with live stills (implies live)

    def rendition(self, name: str | None = None) -> Rendition:
        name = name or self.default_rendition
        for r in self.renditions:
            if r.name == name:
                return r
        raise KeyError(f"no rendition {name!r}; this template has {', '.join(r.name for r in self.renditions)}")


@dataclass(frozen=True)
class Brand:
    """``brand:``; expressions and pages read it as ``brand`` (:meth:`context`)."""

    name: str
    color: str
    accent: str | None = None
    ink: str | None = None
    logo: str | None = None  # the asset reference as written
    logo_path: Path | None = None  # where it resolved; never shown to expressions

    def context(self) -> dict[str, str]:
        """The keys the template set, as expressions see them (``brand.name``, ``brand.color`` …)."""
        return {k: v for k in ("name", "color", "accent", "ink", "logo") if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class Contact:
    """``contact:``; expressions and pages read it as ``contact`` (:meth:`context`)."""

    phone: str | None = None
    email: str | None = None
    chat: str | None = None

    def context(self) -> dict[str, str]:
        return {k: v for k in ("phone", "email", "chat") if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class Epc:
    """A SEPA transfer QR code on the page (tailorcast/payments/epc.py)."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True)
class PagoPa:
    """An Italian pagoPA notice QR code on the page (tailorcast/payments/pagopa.py)."""

    creditor: str  # the creditor's 11-digit fiscal code
    notice_field: str  # the field with the 18-digit notice code


@dataclass(frozen=True)
class Payment:
    """``payment:``, with every default in one place. No ``payment:`` section: no link, no QR codes."""

    link: str = ""  # an expression; what it means depends on the provider (tailorcast/payments/paylink.py)
    provider: str = "url"
    reference_field: str = "invoice_id"
    amount_field: str = "amount_due"
    due_field: str = "due_date"
    valid_days: int = 30  # signed: the link expires this many days after the due date
    prefill_email: bool = False  # stripe
    currency: str = DEFAULT_CURRENCY  # when the row has no currency column
    epc: Epc | None = None
    pagopa: PagoPa | None = None

    def currency_of(self, values: Mapping[str, Any]) -> str:
        """The row's ``currency`` (upper case), or the default."""
        return str(values.get("currency") or self.currency).upper()


@dataclass(frozen=True)
class Variant:
    name: str
    when: str | None  # None: the default, chosen when no rule before it matches


@dataclass(frozen=True)
class Arm:
    """One arm of an experiment: a name, an optional variant it imposes, its weight."""

    name: str
    weight: float = 1.0
    variant: str | None = None  # within: run only; None keeps the variant the rules chose


@dataclass(frozen=True)
class Experiment:
    """``experiment:``: arms, a holdout share (no video, no page), and what the assignment randomizes within.

    ``within``: ``run`` (arms across the whole run, an arm's ``variant`` replacing the rules' choice) or
    ``rule`` (the rules choose the variant as always; arms and holdout are compared within each variant).
    ``planned_per_arm`` and ``horizon_days`` fix the horizon: no verdict before both are reached.
    """

    id: str
    arms: tuple[Arm, ...]
    holdout: float = 0.0
    within: str = "run"
    planned_per_arm: int | None = None
    horizon_days: int = 30

    def declaration(self) -> dict[str, Any]:
        """The experiment as plain JSON values (the run's summary.json carries it to results)."""
        return {"id": self.id, "arms": [{"name": a.name, "weight": a.weight, "variant": a.variant} for a in self.arms],
                "holdout": self.holdout, "within": self.within, "planned_per_arm": self.planned_per_arm,
                "horizon_days": self.horizon_days}


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    version: int
    root: Path
    locales: tuple[str, ...]
    fallback_locale: str | None
    brand: Brand
    fields: tuple[Field, ...]
    payment: Payment
    contact: Contact
    page: Path
    video: VideoSpec
    scenes: tuple[Scene, ...]
    strings: Mapping[str, Mapping[str, Any]]
    content_hash: str = field(compare=False)
    variants: tuple[Variant, ...] = ()
    experiment: Experiment | None = None

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

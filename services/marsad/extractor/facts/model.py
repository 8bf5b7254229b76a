"""Value types of the facts step: dates, quantities, casualties, events, quotes.

Every fact carries ``start``/``end`` offsets into the text given to
:func:`marsad.extractor.facts.extract_facts` and the ``text`` of that span, so
a reader can always see where a finding came from.  ``to_json()`` shapes are
described by ``schemas/defs/facts.v1.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class MentionLike(Protocol):
    """One occurrence of an entity (offsets into the same text).

    Members are read-only properties so that frozen dataclasses satisfy it.
    """

    @property
    def type(self) -> str:
        """PERS, LOC, ORG or MISC."""
        ...

    @property
    def start(self) -> int:
        """Offset of the first character."""
        ...

    @property
    def end(self) -> int:
        """Offset one past the last character."""
        ...

    @property
    def text(self) -> str:
        """The span as written."""
        ...


class EntityLike(Protocol):
    """What the facts step needs from a named entity (see ``marsad.extractor.ner.Entity``)."""

    @property
    def id(self) -> str:
        """Entity id within the article (e1, e2 …)."""
        ...

    @property
    def type(self) -> str:
        """PERS, LOC, ORG or MISC."""
        ...

    @property
    def canonical(self) -> str:
        """The fullest name."""
        ...

    @property
    def title(self) -> str | None:
        """Title or rank of a person, if known."""
        ...

    @property
    def country(self) -> str | None:
        """ISO 3166-1 alpha-2 code, if known."""
        ...

    @property
    def mentions(self) -> Sequence[MentionLike]:
        """Every occurrence in the text."""
        ...


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of the text: ``text == source[start:end]``."""

    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        """Return ``{"start", "end", "text"}``."""
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class DateRef:
    """A resolved date as attached to an event or casualty: ISO value and resolution kind."""

    value: str | None
    kind: str

    def to_json(self) -> dict[str, Any]:
        """Return ``{"value", "kind"}``."""
        return {"value": self.value, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class DateFact:
    """A date or time expression and the ISO date it stands for.

    Attributes:
        start: Offset of the expression's first character.
        end: Offset one past its last character.
        text: The expression as written.
        value: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` by granularity (a week is
            given by its Monday), or ``None`` when it cannot be resolved.
        kind: ``absolute`` (the text gives the year), ``relative`` (resolved
            against ``published_at``) or ``unresolved`` (``value`` is ``None``).
        granularity: ``day``, ``week``, ``month`` or ``year``.
        calendar: ``gregorian`` or ``hijri`` (``value`` is always Gregorian).
        qualifier: ``early``, ``mid``, ``late`` for أوائل/منتصف/أواخر, else ``None``.
    """

    start: int
    end: int
    text: str
    value: str | None
    kind: str
    granularity: str
    calendar: str = "gregorian"
    qualifier: str | None = None

    @property
    def ref(self) -> DateRef:
        """The ``{value, kind}`` reference used by events and casualties."""
        return DateRef(self.value, self.kind)

    def to_json(self) -> dict[str, Any]:
        """Return the date as a JSON-ready dict."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "value": self.value,
            "kind": self.kind,
            "granularity": self.granularity,
            "calendar": self.calendar,
            "qualifier": self.qualifier,
        }


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number (digits or words) and what it counts.

    Attributes:
        start: Offset of the number's first character.
        end: Offset one past its last character.
        text: The number as written (``29``, ``ثلاثة آلاف``, ``عشرات``).
        value: Its value (the minimum for vague words such as ``عشرات``).
        approximate: True for vague words (dozens, hundreds) and qualifiers (نحو).
        counted: The counted noun as written (``دولة``), if one follows.
        counted_lemma: Folded, article- and suffix-stripped form of ``counted``.
    """

    start: int
    end: int
    text: str
    value: float
    approximate: bool = False
    counted: str | None = None
    counted_lemma: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the quantity as a JSON-ready dict (integral values as ints)."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "value": _num(self.value),
            "approximate": self.approximate,
            "counted": self.counted,
            "counted_lemma": self.counted_lemma,
        }


@dataclass(frozen=True, slots=True)
class Casualty:
    """People killed, injured, arrested, displaced, kidnapped or missing.

    Attributes:
        start: Offset of the first character of the finding (trigger or count).
        end: Offset one past the last character.
        text: The span from trigger to count, as written.
        kind: ``killed``, ``injured``, ``arrested``, ``displaced``, ``kidnapped``, ``missing``.
        count: The number stated (the minimum for ``عشرات``), or ``None``.
        min: Lower bound implied by the qualifier (``at least 5`` -> 5).
        max: Upper bound (``less than 10`` -> 9; a range's end), else ``None``.
        qualifier: ``exact``, ``at_least``, ``more_than``, ``less_than``, ``about`` or ``vague``.
        victims: Kind of victim when stated (``civilian``, ``soldier``, ``person`` …).
        trigger: The casualty word (قتل، جرحى …).
        place: Id of a place entity in the same sentence, if any.
        date: The date the sentence gives, if any.
    """

    start: int
    end: int
    text: str
    kind: str
    count: int | None
    min: int | None
    max: int | None
    qualifier: str
    victims: str | None
    trigger: Span
    place: str | None = None
    date: DateRef | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the casualty count as a JSON-ready dict."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "kind": self.kind,
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "qualifier": self.qualifier,
            "victims": self.victims,
            "trigger": self.trigger.to_json(),
            "place": self.place,
            "date": self.date.to_json() if self.date else None,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """A typed event (PLOVER ontology plus APPEAL and DEFECT) anchored on its trigger.

    Attributes:
        type: PLOVER type (``ASSAULT``, ``DEMAND`` …) or ``APPEAL``/``DEFECT``.
        trigger: The trigger word (verb, masdar or participle).
        actor: Entity id of who acts, if the sentence links one.
        actor_span: The words taken as the actor (an entity mention or, when
            the recogniser found none, the noun phrase next to the trigger).
        target: Entity id of who is acted on.
        target_span: The words taken as the target.
        place: Entity id of a place in the sentence.
        date: The date the sentence gives.
        negated: A negation (لم، لن، لا، نفى …) governs the trigger.
        hypothetical: A condition or modal (إذا، لو، قد + present) governs it.
        future: The event is announced for later (سـ، سوف، يعتزم …).
        casualties: Casualty counts of the same sentence attached to an ASSAULT.
        sentence: The sentence's span (offsets only).
    """

    type: str
    trigger: Span
    actor: str | None
    actor_span: Span | None
    target: str | None
    target_span: Span | None
    place: str | None
    date: DateRef | None
    negated: bool
    hypothetical: bool
    future: bool
    casualties: tuple[Casualty, ...]
    sentence: tuple[int, int]

    @property
    def start(self) -> int:
        """Offset of the trigger."""
        return self.trigger.start

    @property
    def end(self) -> int:
        """End offset of the trigger."""
        return self.trigger.end

    @property
    def text(self) -> str:
        """The trigger text."""
        return self.trigger.text

    def to_json(self) -> dict[str, Any]:
        """Return the event as a JSON-ready dict."""
        return {
            "type": self.type,
            "start": self.trigger.start,
            "end": self.trigger.end,
            "text": self.trigger.text,
            "trigger": self.trigger.to_json(),
            "actor": self.actor,
            "actor_span": self.actor_span.to_json() if self.actor_span else None,
            "target": self.target,
            "target_span": self.target_span.to_json() if self.target_span else None,
            "place": self.place,
            "date": self.date.to_json() if self.date else None,
            "negated": self.negated,
            "hypothetical": self.hypothetical,
            "future": self.future,
            "casualties": [c.to_json() for c in self.casualties],
            "sentence": {"start": self.sentence[0], "end": self.sentence[1]},
        }


@dataclass(frozen=True, slots=True)
class Quote:
    """Direct («…») or reported (قال إن …) speech and who said it.

    Attributes:
        start: Offset of the quoted words (inside the quotation marks).
        end: Offset one past them.
        text: The quoted words.
        kind: ``direct`` (between quotation marks) or ``reported`` (after a speech verb + أن/إن).
        speaker: Entity id of the speaker, if resolved.
        speaker_span: The words naming the speaker (entity mention or title phrase).
        verb: The speech verb, if one introduces the quote.
    """

    start: int
    end: int
    text: str
    kind: str
    speaker: str | None
    speaker_span: Span | None
    verb: Span | None

    def to_json(self) -> dict[str, Any]:
        """Return the quote as a JSON-ready dict."""
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "kind": self.kind,
            "speaker": self.speaker,
            "speaker_span": self.speaker_span.to_json() if self.speaker_span else None,
            "verb": self.verb.to_json() if self.verb else None,
        }


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the facts step found in one article, each list in text order."""

    dates: tuple[DateFact, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    casualties: tuple[Casualty, ...] = ()
    events: tuple[Event, ...] = ()
    quotes: tuple[Quote, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return ``{"dates", "quantities", "casualties", "events", "quotes"}`` (lists of dicts)."""
        return {
            "dates": [d.to_json() for d in self.dates],
            "quantities": [q.to_json() for q in self.quantities],
            "casualties": [c.to_json() for c in self.casualties],
            "events": [e.to_json() for e in self.events],
            "quotes": [q.to_json() for q in self.quotes],
        }


def _num(value: float) -> int | float:
    """Return ``value`` as an int when it is integral (JSON readers expect 29, not 29.0).

    Beyond 64 bits (a scraped run of digits) it stays a float: JSON encoders
    and most readers cannot carry larger integers.
    """
    if float(value).is_integer() and abs(value) < 2**63:
        return int(value)
    return float(value)

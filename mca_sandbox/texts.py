"""Question, description, title and resolution-source texts of the world's markets and events, clear or ambiguous.

Clarity is drawn per event (``draw_clarity``; all markets of an event share it): a share ``ambiguous_share`` of
events is ambiguous and carries one or more kinds, as a bit mask:

- a date problem, at most one of: ``no_date`` (no deadline at all), ``no_timezone`` (a date or time without a time
  zone), ``relative_date`` ("by next week", "this month", "soon"...);
- ``no_source``: no named resolution source ("credible reporting", "a consensus of major outlets", or nothing);
- ``vague_wording``: a subjective condition ("a major rally", "significantly", "widely reported", "likely");
- ``two_conditions``: two conditions in one question ("... and ...", "... or ...").

A clear text names an explicit deadline with a time zone ("by December 3, 2026, 11:59 PM ET", "on or before
2026-12-03 23:59 UTC", the event's ``endDate`` in that zone), a named resolution source ("according to the official
CPI release published by the U.S. Bureau of Labor Statistics", with its URL in Gamma's ``resolutionSource``) and a
single condition. Each category has four single-market templates and one multi-outcome (negRisk) template, with
several deadline, description and source phrasings, so a rule-based scorer has real work to do. Texts are made on
first use per market (about 5 µs; deterministic per seed) and kept as JSON literals for Gamma.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from mca_sandbox.draws import hash_draws
from mca_sandbox.phrases import (
    AGENCIES,
    ARTISTS,
    BILLS,
    COINS,
    COMPANIES,
    DISEASES,
    FILMS,
    JOINERS,
    LEAGUE,
    MISSIONS,
    MONTHS,
    MULTI,
    MULTI_SECOND,
    OFFICES,
    PEOPLE,
    PLAYERS,
    REGIONS,
    RELATIVE,
    SINGLE,
    STATES,
    TEAMS,
    VAGUE_SOURCES,
    ZONES,
)

if TYPE_CHECKING:
    from mca_sandbox.world import World

KIND_NAMES = ("no_date", "no_timezone", "relative_date", "no_source", "vague_wording", "two_conditions")
NO_DATE, NO_TIMEZONE, RELATIVE_DATE, NO_SOURCE, VAGUE, TWO_CONDITIONS = (1 << i for i in range(6))


def draw_clarity(seed: int, n_events: int, share: float) -> np.ndarray:
    """Ambiguity bit mask per event (0 = clear): about ``share`` of events carry one or more kinds."""
    rng = np.random.default_rng([seed, 0xC1A])
    ambiguous = rng.random(n_events) < share
    date_kind = np.array([0, NO_DATE, NO_TIMEZONE, RELATIVE_DATE])[
        np.where(rng.random(n_events) < 0.55, rng.integers(1, 4, n_events), 0)
    ]
    mask = date_kind | np.where(rng.random(n_events) < 0.45, NO_SOURCE, 0)
    mask |= np.where(rng.random(n_events) < 0.45, VAGUE, 0)
    mask |= np.where(rng.random(n_events) < 0.3, TWO_CONDITIONS, 0)
    fallback = np.array([NO_DATE, NO_TIMEZONE, RELATIVE_DATE, NO_SOURCE, VAGUE, TWO_CONDITIONS])
    mask = np.where(mask == 0, fallback[rng.integers(0, 6, n_events)], mask)
    return np.where(ambiguous, mask, 0).astype(np.uint8)


def kinds_of(mask: int) -> list[str]:
    return [name for i, name in enumerate(KIND_NAMES) if mask >> i & 1]


#: The independent choices drawn per event (one hash each).
FIELDS = (
    "state", "agency", "person", "office", "bill", "coin", "team", "team2", "player", "film", "artist", "mission",
    "disease", "region", "company", "relative", "zone", "date_style", "vague_source", "source_style", "outcome",
    "joiner", "template", "number", "other", "number2", "description",
)  # fmt: skip


(
    STATE, AGENCY, PERSON, OFFICE, BILL, COIN, TEAM, TEAM2, PLAYER, FILM, ARTIST, MISSION, DISEASE, REGION, COMPANY,
    RELATIVE_PICK, ZONE, DATE_STYLE, VAGUE_SOURCE, SOURCE_STYLE, OUTCOME, JOINER, TEMPLATE, NUMBER, OTHER, NUMBER2,
    DESCRIPTION,
) = range(len(FIELDS))  # fmt: skip


#: How each placeholder of the templates is filled for an event from its draws.
PLACEHOLDERS: dict[str, Callable[[Texts, int, list[int]], str]] = {
    "person": lambda t, e, h: PEOPLE[h[PERSON] % len(PEOPLE)],
    "office": lambda t, e, h: OFFICES[h[OFFICE] % len(OFFICES)],
    "bill": lambda t, e, h: BILLS[h[BILL] % len(BILLS)],
    "state": lambda t, e, h: STATES[h[STATE] % len(STATES)],
    "slug": lambda t, e, h: STATES[h[STATE] % len(STATES)].lower(),
    "coin": lambda t, e, h: COINS[h[COIN] % len(COINS)],
    "team": lambda t, e, h: TEAMS[h[TEAM] % len(TEAMS)],
    "team2": lambda t, e, h: TEAMS[(h[TEAM] + 1 + h[TEAM2] % 6) % len(TEAMS)],
    "player": lambda t, e, h: PLAYERS[h[PLAYER] % len(PLAYERS)],
    "league": lambda t, e, h: LEAGUE,
    "film": lambda t, e, h: FILMS[h[FILM] % len(FILMS)],
    "artist": lambda t, e, h: ARTISTS[h[ARTIST] % len(ARTISTS)],
    "agency": lambda t, e, h: AGENCIES[h[AGENCY] % len(AGENCIES)][0],
    "agency_url": lambda t, e, h: AGENCIES[h[AGENCY] % len(AGENCIES)][1],
    "mission": lambda t, e, h: MISSIONS[h[MISSION] % len(MISSIONS)],
    "disease": lambda t, e, h: DISEASES[h[DISEASE] % len(DISEASES)],
    "region": lambda t, e, h: REGIONS[h[REGION] % len(REGIONS)],
    "company": lambda t, e, h: COMPANIES[h[COMPANY] % len(COMPANIES)],
    "month": lambda t, e, h: MONTHS[t.local[e][1] - 1],
    "year": lambda t, e, h: str(t.local[e][0]),
    "n": lambda t, e, h: "",
    "outcome": lambda t, e, h: "",
}
_FORMATTER = string.Formatter()
_NAMES: dict[int, frozenset[str]] = {}


def _names(template: tuple[object, ...]) -> frozenset[str]:
    """The placeholders a template's strings use (memoised per template)."""
    found = _NAMES.get(id(template))
    if found is None:
        texts = [part for part in template if isinstance(part, str)]
        found = frozenset(name for text in texts for _, name, _, _ in _FORMATTER.parse(text) if name)
        found -= {"n", "outcome"}
        _NAMES[id(template)] = found
    return found


#: Description bodies around (condition, deadline): plain, and JSON-escaped.
_BODIES = (
    'This market will resolve to "Yes" if {}{}. Otherwise, it will resolve to "No".',
    'If {}{}, this market will resolve to "Yes". If not, it will resolve to "No".',
    'This market resolves to "Yes" when {}{}, and to "No" otherwise.',
)


def _escape(text: str) -> str:
    """The inside of a JSON string literal: the vocabulary is printable ASCII, so quotes and backslashes suffice."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


_DESCRIPTIONS = (_BODIES, tuple(_escape(body) for body in _BODIES))


def json_text(text: str) -> str:
    """A JSON string literal; the vocabulary is printable ASCII, so escaping quotes and backslashes suffices."""
    if text.isascii() and text.isprintable():
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return json.dumps(text, ensure_ascii=False)


def _offset(ts: int, zone: ZoneInfo) -> int:
    delta = datetime.fromtimestamp(ts, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _local_times(ends: np.ndarray, zones: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """(year, month, day, hour, minute) of every instant in its zone, vectorised: zones change their UTC offset only
    on the hour, so the offset of each hour of the window (looked up once) is the offset of every instant in it."""
    ends = ends.astype(np.int64)
    local = ends.copy()
    if ends.size:
        hours = np.arange(ends.min() // 3600 - 1, ends.max() // 3600 + 2, dtype=np.int64)
        for z, (_, zone) in enumerate(ZONES):
            mine = zones == z
            if not mine.any():
                continue
            offsets = np.array([_offset(int(h) * 3600, zone) for h in hours])
            local[mine] = ends[mine] + offsets[ends[mine] // 3600 - hours[0]]
    when = local.astype("datetime64[s]")
    months = when.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (when.astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64) + 1
    hour, minute = (local % 86400) // 3600, (local % 3600) // 60
    return list(zip(year.tolist(), month.tolist(), day.tolist(), hour.tolist(), minute.tolist(), strict=True))


class Texts:
    """The texts of one world (its categories, events, end dates and clarity), made on first use per market."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.categories = world.categories
        n = world.n_events
        self._draws = np.stack([hash_draws(world.config.seed, 0x7E00 + i, n) for i in range(len(FIELDS))], axis=1)
        self.mask = world.event_ambiguity.tolist()
        self._market_json: dict[int, tuple[str, str, str]] = {}
        #: (year, month, day, hour, minute) of each event's end in the time zone its texts name.
        self.local = _local_times(world.event_end, self._draws[:, ZONE] % np.uint64(len(ZONES)))
        # plain lists: indexing them is several times faster than indexing numpy arrays one item at a time
        self.end = world.event_end.tolist()
        self.market_event = world.market_event.tolist()
        self.event_category = world.event_category.tolist()
        self.event_neg_risk = world.event_neg_risk.tolist()
        self.event_first = world.event_first.tolist()
        self._event_json: dict[int, tuple[str, str]] = {}
        self._parts: dict[tuple[object, ...], tuple[str, ...]] = {}

    def _pick(self, e: int) -> list[int]:
        """Independent draws of event e, one per text choice (indexed like ``FIELDS``)."""
        return self._draws[e].tolist()

    # --- pieces -----------------------------------------------------------------------------------------------

    def _fill(self, e: int, h: list[int], names: frozenset[str]) -> dict[str, str]:
        """The values of the placeholders ``names`` for event e."""
        return {name: PLACEHOLDERS[name](self, e, h) for name in names}

    def _deadline(self, e: int, h: list[int]) -> str:
        mask = self.mask[e]
        if mask & NO_DATE:
            return ""
        if mask & RELATIVE_DATE:
            return RELATIVE[h[RELATIVE_PICK] % len(RELATIVE)]
        name = ZONES[h[ZONE] % len(ZONES)][0]
        year, month, day_of_month, hour, minute = self.local[e]
        day = f"{MONTHS[month - 1]} {day_of_month}, {year}"
        clock = f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
        style = h[DATE_STYLE] % 2
        if mask & NO_TIMEZONE:
            return f" by {day}" if style else f" by {clock} on {day}"
        if style:
            return f" on or before {year}-{month:02d}-{day_of_month:02d} {hour:02d}:{minute:02d} {name}"
        return f" by {day}, {clock} {name}"

    def _source(self, e: int, h: list[int], name: str, publisher: str, url: str) -> tuple[str, str]:
        """(description sentence, Gamma resolutionSource)."""
        if self.mask[e] & NO_SOURCE:
            return VAGUE_SOURCES[h[VAGUE_SOURCE] % len(VAGUE_SOURCES)], ""
        style = h[SOURCE_STYLE] % 3
        if style == 0:
            name = name.removeprefix("official ")
            return f" This market will resolve according to the official {name} published by {publisher}.", url
        if style == 1:
            return f" The resolution source for this market is the {name} published by {publisher} ({url}).", url
        return (
            f" Resolution is based solely on the {name} from {publisher}; if nothing qualifying is published by the "
            'deadline, the market resolves to "No".'
        ), url

    # --- per market ---------------------------------------------------------------------------------------------
    def _conditions(self, e: int, m: int, h: list[int]) -> tuple[str, ...]:
        """(question condition, description condition, source sentence), the same JSON-escaped, and the source URL:
        everything but the deadline, memoised by content (worlds reuse these combinations)."""
        mask = self.mask[e]
        cat = self.categories[self.event_category[e]]
        vague = mask & VAGUE
        if self.event_neg_risk[e]:
            template = MULTI[cat]
            q, d, vq, vd, _title, name, publisher, url, pool = template
            fill = self._fill(e, h, _names(template))
            fill["outcome"] = pool[(h[OUTCOME] + m - self.event_first[e]) % len(pool)]
            second: tuple[object, ...] = (h[JOINER] % 2,) if mask & TWO_CONDITIONS else ()
        else:
            templates = SINGLE[cat]
            pick = h[TEMPLATE] % len(templates)
            template = templates[pick]
            q, d, vq, vd, name, publisher, url, numbers = template
            fill = self._fill(e, h, _names(template))
            fill["n"] = numbers[h[NUMBER] % len(numbers)] if numbers else ""
            second = ()
            if mask & TWO_CONDITIONS:
                other = templates[(pick + 1 + h[OTHER] % (len(templates) - 1)) % len(templates)]
                fill2 = {**fill, **self._fill(e, h, _names(other))}
                fill2["n"] = other[7][h[NUMBER2] % len(other[7])] if other[7] else ""
                second = (other, h[JOINER] % 2, *fill2.items())
        source_key = -1 - h[VAGUE_SOURCE] % len(VAGUE_SOURCES) if mask & NO_SOURCE else h[SOURCE_STYLE] % 3
        key = (id(template), vague, source_key, second, *fill.items())
        found = self._parts.get(key)
        if found is not None:
            return found
        second_q = second_d = ""
        if second and self.event_neg_risk[e]:
            joiner = JOINERS[h[JOINER] % 2]
            second_q, second_d = (joiner + part for part in MULTI_SECOND[cat])
        elif second:
            joiner = JOINERS[h[JOINER] % 2]
            second_q, second_d = joiner + other[0].format(**fill2), joiner + other[1].format(**fill2)
        condition_q = (vq if vague else q).format(**fill) + second_q
        condition_d = (vd if vague else d).format(**fill) + second_d
        source, source_url = self._source(e, h, name.format(**fill), publisher.format(**fill), url.format(**fill))
        plain = (condition_q, condition_d, source)
        found = self._parts[key] = (*plain, *(_escape(text) for text in plain), source_url)
        return found

    def market(self, m: int) -> tuple[str, str, str]:
        """(question, description, resolution source URL or "") of market m."""
        return self._market(m, escaped=False)

    def _market(self, m: int, escaped: bool) -> tuple[str, str, str]:
        e = self.market_event[m]
        h = self._pick(e)
        parts = self._conditions(e, m, h)
        condition_q, condition_d, source = parts[3:6] if escaped else parts[:3]
        deadline = self._deadline(e, h)
        question = f"Will {condition_q}{deadline}?"
        description = _DESCRIPTIONS[escaped][h[DESCRIPTION] % 3].format(condition_d, deadline) + source
        return question, description, parts[6]

    def market_json(self, m: int) -> tuple[str, str, str]:
        """(question, description) of market m as JSON string literals, and its resolution source, memoised
        (Gamma's hot path)."""
        found = self._market_json.get(m)
        if found is None:
            question, description, source = self._market(m, escaped=True)
            found = self._market_json[m] = (f'"{question}"', f'"{description}"', source)
        return found

    def event_json(self, e: int) -> tuple[str, str]:
        """(title, description) of event e as JSON string literals, memoised."""
        if not self.event_neg_risk[e]:
            return self.market_json(self.event_first[e])[:2]
        found = self._event_json.get(e)
        if found is None:
            title, description = self.event(e)
            found = self._event_json[e] = (json_text(title), json_text(description))
        return found

    def event(self, e: int) -> tuple[str, str]:
        """(title, description) of event e: a multi-outcome event has its own; a single market's event is it."""
        w = self.world
        first = int(w.event_first[e])
        if not w.event_neg_risk[e]:
            question, description, _ = self.market(first)
            out = (question, description)
        else:
            cat = self.categories[int(w.event_category[e])]
            h = self._pick(e)
            title = MULTI[cat][4].format(**self._fill(e, h, _names(MULTI[cat])))
            size = int(w.event_size[e])
            deadline = self._deadline(e, h)
            description = (
                f'This is a multi-outcome event with {size} markets: exactly one of them resolves to "Yes" and the '
                f'others resolve to "No"{deadline and "," + deadline}. See each market for its rules.'
            )
            out = (title, description)
        return out

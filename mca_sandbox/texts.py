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

if TYPE_CHECKING:
    from mca_sandbox.world import World

KIND_NAMES = ("no_date", "no_timezone", "relative_date", "no_source", "vague_wording", "two_conditions")
NO_DATE, NO_TIMEZONE, RELATIVE_DATE, NO_SOURCE, VAGUE, TWO_CONDITIONS = (1 << i for i in range(6))
DATE_KINDS = NO_DATE | NO_TIMEZONE | RELATIVE_DATE


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


# --- vocabulary -----------------------------------------------------------------------------------------------
PEOPLE = ("Maria Alvarez", "James Whitfield", "Priya Natarajan", "Daniel Okafor", "Elena Sorensen", "Marcus Bell",
          "Hannah Cho", "Robert Tilden", "Sofia Marquez", "Thomas Reyes", "Grace Liu", "Adrian Kowalski")  # fmt: skip
STATES = ("Arizona", "Georgia", "Michigan", "Nevada", "Ohio", "Pennsylvania", "Virginia", "Wisconsin")
OFFICES = ("Secretary of Commerce", "Attorney General", "Ambassador to the United Nations", "Secretary of Energy")
BILLS = ("Clean Grid Act", "Border Modernization Act", "Child Care Affordability Act", "Data Privacy Act")
COINS = ("Solana", "XRP", "Cardano", "Dogecoin", "Avalanche", "Chainlink", "Litecoin", "Polkadot")
TEAMS = ("Boston Harbors", "Denver Peaks", "Austin Comets", "Portland Pines", "Miami Tides", "Chicago Forge",
         "Seattle Orcas", "Phoenix Flames")  # fmt: skip
PLAYERS = ("Jalen Brooks", "Luca Moretti", "Kenji Tanaka", "Andre Silva", "Tyler Haynes", "Omar Haddad")
FILMS = ("Glass Harbor", "The Last Orchard", "Midnight Protocol", "Iron Meridian", "Paper Suns", "A Quiet Empire",
         "Northern Static", "The Cartographer")  # fmt: skip
ARTISTS = ("Nova Reyes", "The Lantern Club", "Kaia Monroe", "Echo Valley", "Dmitri Vale", "Sable & Stone")
SECTORS = ("Energy", "Technology", "Health Care", "Financials", "Utilities", "Industrials", "Materials", "Real Estate")
MISSIONS = ("Artemis IV", "Helios-2", "Europa Lander", "Lunar Gateway", "Starlight-1")
DISEASES = ("H5N1 avian influenza", "mpox clade I", "Marburg virus disease", "a novel coronavirus variant")
REGIONS = ("California", "Japan", "Chile", "Turkey", "Indonesia", "Alaska")
COMPANIES = ("Helix Therapeutics", "Orion Biolabs", "NovaGen", "Cardinal Pharma")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
LEAGUE = "North American Basketball League"

# A single-market template: (question condition, description condition, vague question condition, vague description
# condition, source name, publisher, URL, numbers {n} is drawn from).
Template = tuple[str, str, str, str, str, str, str, tuple[str, ...]]
SINGLE: dict[str, tuple[Template, ...]] = {
    "politics": (
        (
            "the {bill} pass the U.S. Senate",
            "the {bill} passes the U.S. Senate",
            "the {bill} make significant progress in Congress",
            "the {bill} makes significant progress in Congress",
            "roll-call vote record",
            "the United States Senate",
            "https://www.senate.gov/legislative/votes.htm",
            (),
        ),
        (
            "{person} be confirmed as {office}",
            "{person} is confirmed by the Senate as {office}",
            "{person} likely end up as {office}",
            "{person} is widely expected to become {office}",
            "confirmation vote record",
            "the United States Senate",
            "https://www.senate.gov/legislative/votes.htm",
            (),
        ),
        (
            "{person} win the {state} governor election",
            "{person} wins the {state} gubernatorial general election",
            "{person} win the {state} race by a wide margin",
            "{person} wins the {state} race by a wide margin",
            "certified election results",
            "the {state} Secretary of State",
            "https://sos.{slug}.gov/elections",
            (),
        ),
        (
            "{person} file to run for {office}",
            "{person} files a statement of candidacy for {office}",
            "{person} signal a major move toward running for {office}",
            "{person} signals a major move toward running for {office}",
            "candidate filings database",
            "the Federal Election Commission",
            "https://www.fec.gov/data/candidates/",
            (),
        ),
    ),
    "crypto": (
        (
            "Bitcoin close above ${n},000 on the Binance BTC/USDT daily candle",
            "the Binance BTC/USDT 1-day candle closes above ${n},000",
            "Bitcoin see a major rally",
            "Bitcoin sees a major rally",
            "BTC/USDT 1-day candle close",
            "Binance",
            "https://www.binance.com/en/trade/BTC_USDT",
            ("90", "100", "110", "120", "135", "150"),
        ),
        (
            "Ethereum trade above ${n} on Coinbase",
            "any trade of ETH-USD on Coinbase prints above ${n}",
            "Ethereum significantly outperform the market",
            "Ethereum significantly outperforms the crypto market",
            "ETH-USD trade history",
            "Coinbase",
            "https://www.coinbase.com/price/ethereum",
            ("3,000", "3,500", "4,000", "5,000", "6,000"),
        ),
        (
            "the SEC approve a spot {coin} ETF",
            "the SEC approves a spot {coin} exchange-traded fund",
            "regulators soon warm to a spot {coin} ETF",
            "regulators are widely reported to warm to a spot {coin} ETF",
            "orders and notices",
            "the U.S. Securities and Exchange Commission",
            "https://www.sec.gov/rules-regulations",
            (),
        ),
        (
            "{coin}'s market capitalization exceed ${n} billion",
            "{coin}'s market capitalization exceeds ${n} billion",
            "{coin} become one of the top coins",
            "{coin} becomes one of the top coins",
            "market capitalization page",
            "CoinGecko",
            "https://www.coingecko.com",
            ("25", "50", "75", "100"),
        ),
    ),
    "sports": (
        (
            "the {team} beat the {team2} in their next scheduled game",
            "the {team} beat the {team2} in their next scheduled regular-season game",
            "the {team} dominate the {team2}",
            "the {team} dominate the {team2}",
            "official box score",
            "the " + LEAGUE,
            "https://www.nabl-league.com/scores",
            (),
        ),
        (
            "{player} score {n} or more points against the {team2}",
            "{player} scores {n} or more points against the {team2}",
            "{player} have a big game against the {team2}",
            "{player} has a big game against the {team2}",
            "official box score",
            "the " + LEAGUE,
            "https://www.nabl-league.com/stats",
            ("25", "30", "35", "40"),
        ),
        (
            "the {team} win the {league} championship",
            "the {team} win the {league} championship series",
            "the {team} be considered the best team in the {league}",
            "the {team} are considered the best team in the {league}",
            "official standings and playoff results",
            "the " + LEAGUE,
            "https://www.nabl-league.com/playoffs",
            (),
        ),
        (
            "{player} sign a contract extension with the {team}",
            "{player} signs a contract extension with the {team}",
            "{player} likely stay with the {team}",
            "{player} is likely to stay with the {team}",
            "official transactions log",
            "the " + LEAGUE,
            "https://www.nabl-league.com/transactions",
            (),
        ),
    ),
    "economics": (
        (
            "U.S. CPI inflation for {month} come in above {n}% year over year",
            "the year-over-year U.S. CPI-U inflation rate for {month} is above {n}%",
            "inflation come in significantly hotter than expected",
            "inflation comes in significantly hotter than expected",
            "Consumer Price Index release",
            "the U.S. Bureau of Labor Statistics",
            "https://www.bls.gov/cpi/",
            ("2.5", "2.8", "3.0", "3.2", "3.5"),
        ),
        (
            "the Federal Reserve cut the federal funds target range at its {month} meeting",
            "the FOMC lowers the target range for the federal funds rate at its {month} meeting",
            "the Federal Reserve signal a major policy shift",
            "the Federal Reserve signals a major policy shift",
            "FOMC statement",
            "the Board of Governors of the Federal Reserve System",
            "https://www.federalreserve.gov/monetarypolicy.htm",
            (),
        ),
        (
            "U.S. nonfarm payrolls for {month} exceed {n},000",
            "the first print of U.S. nonfarm payrolls for {month} exceeds {n},000",
            "the jobs report be strong",
            "the jobs report is strong",
            "Employment Situation report",
            "the U.S. Bureau of Labor Statistics",
            "https://www.bls.gov/ces/",
            ("100", "150", "175", "200", "250"),
        ),
        (
            "the S&P 500 close above {n}",
            "the S&P 500 index closes above {n}",
            "stocks have a major rally",
            "stocks have a major rally",
            "official closing level",
            "S&P Dow Jones Indices",
            "https://www.spglobal.com/spdji/en/indices/equity/sp-500/",
            ("6,000", "6,400", "6,800", "7,200"),
        ),
    ),
    "culture": (
        (
            "'{film}' gross more than ${n} million in its domestic opening weekend",
            "'{film}' grosses more than ${n} million in its domestic (U.S. and Canada) opening weekend",
            "'{film}' be a big box-office hit",
            "'{film}' is a big box-office hit",
            "domestic weekend box-office chart",
            "Box Office Mojo",
            "https://www.boxofficemojo.com/weekend/",
            ("40", "60", "80", "100", "150"),
        ),
        (
            "{artist} release a new studio album",
            "{artist} releases a new full-length studio album",
            "{artist} drop major new music",
            "{artist} drops major new music",
            "artist catalogue",
            "Spotify",
            "https://open.spotify.com",
            (),
        ),
        (
            "{artist} reach #1 on the Billboard Hot 100",
            "a song by {artist} reaches #1 on the Billboard Hot 100",
            "{artist} have a widely reported chart success",
            "{artist} has a widely reported chart success",
            "Billboard Hot 100 chart",
            "Billboard",
            "https://www.billboard.com/charts/hot-100/",
            (),
        ),
        (
            "'{film}' pass ${n} million at the worldwide box office",
            "'{film}' passes ${n} million worldwide",
            "'{film}' be remembered as the movie of the year",
            "'{film}' is remembered as the movie of the year",
            "worldwide box-office totals",
            "Box Office Mojo",
            "https://www.boxofficemojo.com/year/world/",
            ("300", "500", "750", "1,000"),
        ),
    ),
    "science": (
        (
            "{agency} launch the {mission} mission",
            "{agency} launches the {mission} mission (lift-off counts)",
            "the {mission} mission go ahead soon",
            "the {mission} mission goes ahead soon",
            "official launch schedule",
            "{agency}",
            "{agency_url}",
            (),
        ),
        (
            "the WHO declare {disease} a Public Health Emergency of International Concern",
            "the World Health Organization declares {disease} a Public Health Emergency of International Concern",
            "{disease} become a major global concern",
            "{disease} becomes a major global concern",
            "emergency committee statements",
            "the World Health Organization",
            "https://www.who.int/emergencies",
            (),
        ),
        (
            "a magnitude {n} or greater earthquake strike {region}",
            "an earthquake of magnitude {n} or greater with its epicentre in {region} occurs",
            "a significant earthquake hit {region}",
            "a significant earthquake hits {region}",
            "earthquake catalog",
            "the U.S. Geological Survey",
            "https://earthquake.usgs.gov/earthquakes/search/",
            ("6.0", "6.5", "7.0", "7.5"),
        ),
        (
            "{company} report positive Phase 3 results",
            "{company} reports that its Phase 3 trial met its primary endpoint",
            "{company} announce a breakthrough",
            "{company} announces a breakthrough",
            "press releases and trial registry",
            "ClinicalTrials.gov",
            "https://clinicaltrials.gov",
            (),
        ),
    ),
}

# Multi-outcome templates: (question condition, description condition, vague question, vague description, event
# title, source name, publisher, URL, outcome pool).
MultiTemplate = tuple[str, str, str, str, str, str, str, str, tuple[str, ...]]
MULTI: dict[str, MultiTemplate] = {
    "politics": (
        "{outcome} win the {state} governor election",
        "{outcome} wins the {state} gubernatorial election",
        "{outcome} come out on top in {state}",
        "{outcome} comes out on top in {state}",
        "{state} Governor Election Winner",
        "certified election results",
        "the {state} Secretary of State",
        "https://sos.{slug}.gov/elections",
        PEOPLE,
    ),
    "crypto": (
        "{outcome} be the best-performing of these coins in {month}",
        "{outcome} has the highest {month} return of the listed coins on CoinGecko",
        "{outcome} be the hottest coin in {month}",
        "{outcome} is the hottest coin in {month}",
        "Best-Performing Coin in {month}",
        "historical price data",
        "CoinGecko",
        "https://www.coingecko.com",
        COINS,
    ),
    "sports": (
        "the {outcome} win the {league} championship",
        "the {outcome} win the {league} championship series",
        "the {outcome} be the best team of the season",
        "the {outcome} are the best team of the season",
        "{league} Champion",
        "official playoff results",
        "the " + LEAGUE,
        "https://www.nabl-league.com",
        TEAMS,
    ),
    "economics": (
        "{outcome} be the top-performing S&P 500 sector in {month}",
        "the S&P 500 {outcome} sector index has the highest total return of all sectors in {month}",
        "{outcome} lead the market in {month}",
        "{outcome} leads the market in {month}",
        "Top S&P 500 Sector in {month}",
        "sector index returns",
        "S&P Dow Jones Indices",
        "https://www.spglobal.com/spdji/en/",
        SECTORS,
    ),
    "culture": (
        "'{outcome}' win Best Picture at the {year} Academy Awards",
        "'{outcome}' wins Best Picture at the {year} Academy Awards",
        "'{outcome}' be the most celebrated film of {year}",
        "'{outcome}' is the most celebrated film of {year}",
        "Best Picture {year}",
        "official winners list",
        "the Academy of Motion Picture Arts and Sciences",
        "https://www.oscars.org",
        FILMS,
    ),
    "science": (
        "{outcome} win the {year} Nobel Prize in Physics",
        "{outcome} is named a {year} Nobel laureate in Physics",
        "{outcome} be recognised for a major discovery",
        "{outcome} is recognised for a major discovery",
        "Nobel Prize in Physics {year}",
        "official announcement",
        "the Royal Swedish Academy of Sciences",
        "https://www.nobelprize.org",
        PEOPLE,
    ),
}

#: The second condition of an ambiguous multi-outcome question: (question form, description form).
MULTI_SECOND: dict[str, tuple[str, str]] = {
    "politics": ("turnout exceed 60%", "turnout exceeds 60%"),
    "crypto": ("Bitcoin close the month higher", "Bitcoin closes the month higher"),
    "sports": ("the final go to a deciding game", "the final goes to a deciding game"),
    "economics": ("the S&P 500 finish the month higher", "the S&P 500 finishes the month higher"),
    "culture": ("the ceremony draw a record audience", "the ceremony draws a record audience"),
    "science": ("the prize be shared", "the prize is shared"),
}

AGENCIES = (("NASA", "https://www.nasa.gov/event-type/launch-schedule/"), ("ESA", "https://www.esa.int/Launches"),
            ("JAXA", "https://global.jaxa.jp/projects/"), ("SpaceX", "https://www.spacex.com/launches/"))  # fmt: skip
ZONES = (("ET", ZoneInfo("America/New_York")), ("UTC", ZoneInfo("UTC")), ("PT", ZoneInfo("America/Los_Angeles")))
RELATIVE = (" by next week", " this month", " before the end of the year", " soon", " in the coming days",
            " by the end of the season")  # fmt: skip
VAGUE_SOURCES = (" The market will be resolved based on credible reporting.",
                 " Resolution will be based on a consensus of major news outlets.",
                 " Resolution will follow widely reported information.", "")  # fmt: skip
JOINERS = (" and ", " or ")


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

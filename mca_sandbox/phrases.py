"""The vocabulary of the world's texts: names, templates per category, deadline and source phrasings.

A single-market template is (question condition, description condition, vague question condition, vague
description condition, source name, publisher, URL, numbers ``{n}`` is drawn from); a multi-outcome one is
(question, description, vague question, vague description, event title, source name, publisher, URL, outcome pool).
Conditions follow "Will ..." in questions and "if ..." in descriptions. ``texts.py`` assembles them.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

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

"""The patterns behind the question-clarity rules (``mca_core.clarity``), one constant per idea.

Patterns are Rust ``regex`` syntax (what Polars runs): no look-around, ``(?i:...)`` for
case-insensitive parts. Word lexicons (vague, subjective, movement) are matched in LOWER case
only, on purpose: capitalised uses are names ("Best Picture", "Major League Baseball", "Great
Britain"), not judgements. They were written from how Polymarket states resolution criteria
(explicit "11:59 PM ET" deadlines, "The resolution source for this market will be ...", "This
market will resolve to Yes if ...") and from the usual sources of ambiguity in natural
language: vague quantifiers and hedges, evaluative adjectives, deictic (speaker-relative) time,
and coordination of several predicates.
"""

from __future__ import annotations

from typing import Final


def _words(*alternatives: str) -> str:
    """``\\b(?:a|b|...)\\b`` over regex alternatives."""
    return r"\b(?:" + "|".join(alternatives) + r")\b"


_MONTH: Final = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)

#: A calendar day: "March 12", "Nov 3rd, 2020", "31 December", ISO "2026-03-12", "12/31/2026".
FULL_DATE: Final = (
    rf"(?i:\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b"
    r"|\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b)"
)
#: A year 1900-2099 not written as money or a longer number ("2028 nomination", "end of 2020", not "$2000").
YEAR: Final = r"(?:^|[^$\d.,])(?:19|20)\d{2}\b"
#: A time of day: "11:59 PM", "5:20AM", "12pm", "5 a.m.", "noon", "midnight", or a market close.
TIME: Final = (
    r"(?i:\b\d{1,2}:\d{2}|\b\d{1,2}\s*(?:[ap]m\b|[ap]\.m\.)|\bnoon\b|\bmidnight\b"
    r"|\bclose of (?:trading|business|market)\b|\bmarket close\b|\bclosing (?:price|bell|time)\b)"
)
#: A time zone: US/European/Asian abbreviations (case-sensitive: "ET", not "et"), spelled-out zones, UTC offsets.
TIME_ZONE: Final = (
    _words(
        "ET|EST|EDT|PT|PST|PDT|CT|CST|CDT|MT|MST|MDT|UTC|GMT|BST|CET|CEST|EET|EEST|WET|JST|KST|IST|HKT|SGT"
        "|AEST|AEDT|AWST|NZST|NZDT"
    )
    + r"|\d{2}(?::\d{2})?Z\b|\d[+-]\d{2}:\d{2}\b"
    + r"|(?i:\b(?:eastern|pacific|central|mountain|atlantic|greenwich mean|coordinated universal)"
    + r"\s+(?:standard\s+|daylight\s+)?time\b|\b(?:utc|gmt)\s*[+-]\s*\d|\bnew york time\b|\blondon time\b)"
)

#: Generic ways of naming where the outcome is read: "resolution source", "according to", "official
#: ... results", "data from", "reported by", a URL or a domain, "publicly announces".
SOURCE_PHRASE: Final = (
    r"(?i:\bresolution source|\bresolved? (?:according to|based on|using)\b|\baccording to\b"
    r"|\bas (?:reported|published|announced|stated|listed|shown|displayed|confirmed|determined|certified)"
    r" (?:by|on|in)\b|\b(?:reported|published|announced|confirmed|certified|released|verified) by\b"
    r"|\bper (?:the )?official\b|\bofficial (?:[\w-]+ ){0,3}(?:sources?|websites?|sites?|data|results?"
    r"|announcements?|statements?|reports?|figures|statistics|channels?|accounts?|counts?|tall(?:y|ies)|pages?"
    r"|releases?|records?|information|documents?|filings?|rankings?|standings?|scoreboards?|box scores?)\b"
    r"|\b(?:data|information|prices?|figures|results?|statistics|readings?|numbers) (?:from|published by"
    r"|provided by|reported by|released by)\b|https?://|\bwww\.|\b[a-z0-9-]+\.(?:com|org|net"
    r"|io|gov|edu|co|link|xyz|finance|ai|info|uk|us|eu)\b|\bpublicly (?:announc|confirm|stat|report)\w*"
    r"|\b(?:will be|is|are) determined (?:by|using|based on|from)\b|\bas determined by\b|\bsource of truth\b)"
)
#: Appeals to no one in particular ("credible reporting", "widely reported"): removed before sources are looked for.
NOT_SOURCE: Final = (
    r"(?i:(?:\b(?:resolved?|resolution)(?: will| is)?(?: be)? "
    r"(?:based (?:solely )?on|according to|follows?|using|per) )?"
    r"(?:\b(?:a |the )?consensus of (?:[\w-]+ ){0,3}(?:reporting|reports|outlets|sources|media)\b"
    r"|\b(?:credible|reliable|widespread|public|media|news) (?:reporting|reports?|sources?)\b"
    r"|\bwidely (?:reported|available|published|shared)(?: information| news)?\b"
    r"|\b(?:major|mainstream) (?:news|media)(?: outlets)?\b))"
)
#: Sentences that say where the outcome is read; a publisher's name counts as the source only inside one.
SOURCE_SENTENCE: Final = (
    r"(?i:\bresol|\bsource\b|\baccording to\b|\bbased on\b|\bper\b|\bpublished\b|\breported\b|\bofficial\b"
    r"|\bdata\b|\bdetermined\b)"
)
#: Organisations that publish outcomes (case-sensitive proper names).
SOURCE_NAME: Final = _words(
    "AP|Associated Press|Reuters|Bloomberg|Chainlink|Pyth|Binance|Coinbase|Kraken|CoinGecko|CoinMarketCap"
    "|ESPN|NFL|NBA|WNBA|MLB|NHL|MLS|FIFA|UEFA|ATP|WTA|PGA|UFC|NCAA|BLS|Bureau of Labor Statistics|BEA"
    "|Bureau of Economic Analysis|Federal Reserve|Fed|FOMC|Census Bureau|NOAA|National Weather Service"
    "|National Hurricane Center|Box Office Mojo|Billboard|Spotify|Rotten Tomatoes|IMDb|Metacritic|Nielsen"
    "|Yahoo Finance|Google Finance|TradingView|Nasdaq|NYSE|CME|FEC|SEC|Federal Register|Supreme Court"
    "|Electoral Commission|Election Commission"
)

#: Sentences of a description that state or qualify the resolution criterion.
CRITERIA_TRIGGER: Final = r"(?i:\bresolv|\bif\b|\bwhether\b|\bdefined\b|\bdetermin|\bconsider|\bcounts?\b|\bqualif)"
#: Sentences that define their own terms ("... is defined as ...", "to be considered a launch").
DEFINITION: Final = (
    r"(?i:\bdefined as\b|\b(?:is|are|be|been|being) defined\b"
    r"|\bconsidered (?:to be|as)\b|\bfor the purposes? of this market\b|\bshall mean\b|\bmeans\b|\brefers? to\b"
    r"|\bcounts? as\b|\bwill count\b|\bqualif(?:y|ies|ied) as\b|\bto be considered\b)"
)
#: One sentence: runs of text up to a [.!?] followed by space or the end, or a line break.
SENTENCE: Final = r"(?:[^.!?\n]|[.!?][^\s.!?])+[.!?]*"

#: Phrases that contain a lexicon word but are not vague: removed before the lexicons are searched.
NOT_VAGUE: Final = (
    r"(?i:\bas soon as\b|\bsoon after\b|\bbest (?:bid|ask|offer)s?\b|\b(?:best|worst|top)[- ]performing\b"
    r"|\bfair (?:market )?value\b|\bdrops? out\b"
    r"|\bdropped out\b|\bwithin [\w ]{1,20}? (?:hours?|days?|weeks?|months?|years?) (?:of|after|before|following)\b)"
)
#: Vague quantifiers, intensifiers and hedges: the threshold or the commitment is left to the reader.
VAGUE: Final = _words(
    r"significant(?:ly)?|substantial(?:ly)?|considerabl[ey]|major|massive(?:ly)?|huge(?:ly)?|dramatic(?:ally)?"
    r"|drastic(?:ally)?|notabl[ey]|noticeabl[ey]|meaningful(?:ly)?|sharply|materially|appreciabl[ey]|sizeable"
    r"|sizable|big|bigger|biggest|enormous|tremendous|many|several|numerous|a few|a lot|a bit|lots of|plenty"
    r"|roughly|approximately|nearly|almost|virtually|essentially|basically|somewhat|fairly|quite|very"
    r"|extremely|highly|largely|mostly|mainly|widely|broadly|generally|reasonably|relatively|sufficiently"
    r"|adequately|likely|unlikely|probably|possibly|perhaps|maybe|might|arguably|seemingly|apparently"
    r"|presumably|sort of|kind of|more or less|to some (?:extent|degree)|or so|and so on|etc"
    # idioms that name no measurable outcome ("come out on top" of what: a plurality, a certified count?)
    r"|(?:come|comes|came|coming) out (?:on top|ahead)|on top|(?:get|gets|got|have|has) the upper hand"
    r"|(?:gain|gains|gained|lose|loses|lost) ground|(?:make|makes|made) (?:headlines|waves)"
    r"|(?:one of|among) the (?:top|leading|biggest|largest) [a-z]"
)
#: Direction words that are vague unless the text gives a number or a comparison to read them against.
MOVEMENT: Final = _words(
    r"crash(?:es|ed)?|surge[sd]?|soar(?:s|ed)?|plunge[sd]?|plummet(?:s|ed)?|skyrocket(?:s|ed)?|tank(?:s|ed)?"
    r"|moon(?:s|ed)?|collapse[sd]?|boom(?:s|ed)?|rall(?:y|ies|ied)|rebound(?:s|ed)?|spike[sd]?|improve[sd]?"
    r"|improvement|worsen(?:s|ed)?|deteriorate[sd]?|recover(?:s|ed|y)?|grow(?:s|n|th)?|increase[sd]?"
    r"|decrease[sd]?|decline[sd]?|rise[sn]?|rose|fall(?:s|en)?|fell|drop(?:s|ped)?|go(?:es)? (?:up|down)"
    r"|jump(?:s|ed)?|slump(?:s|ed)?|dip(?:s|ped)?|pump(?:s|ed)?|dump(?:s|ed)?"
)
#: A number with a unit, or a comparison, that makes a direction word measurable.
MEASURE: Final = (
    r"\$\s?\d|\d\s?%|(?i:\b\d[\d,.]*\s?(?:k|m|b|bn|million|billion|trillion|thousand|points?|bps|basis points"
    r"|percent|percentage points?|degrees)\b|\b(?:greater|less|more|fewer|higher|lower) than\b|\bat (?:least|most)\b"
    r"|\babove\b|\bbelow\b|\bor (?:more|higher|lower)\b|\bexceeds?\b|\bsurpass|\bequal to\b|\b(?:compared|relative)"
    r" to\b|\bnegative\b|\bpositive\b)"
)
#: Evaluative words: whether they apply is a matter of judgement.
SUBJECTIVE: Final = _words(
    r"best|worst|good|bad|great|greatest|better|worse|successful(?:ly)?|success|popular|unpopular|important"
    r"|impressive|beautiful|ugly|controversial|interesting|boring|exciting|disappointing|amazing|awesome"
    r"|terrible|awful|excellent|outstanding|remarkable|wonderful|poor(?:ly)?|deserv(?:e|es|ed|ing)|fair(?:ly)?"
    r"|unfair(?:ly)?|legitimate|reasonable|appropriate|acceptable|effective(?:ly)?|historic|landmark"
    r"|breakthrough|revolutionary|viral|mainstream|dominant|dominat(?:e|es|ed|ing)|strong(?:er|est|ly)?"
    r"|weak(?:er|est|ly)?|embarrass(?:ing|ed)|humiliat(?:ing|ed)|happy|satisfied|lov(?:e|es|ed)|hat(?:e|es|ed)"
    r"|favou?rite|iconic|epic|disastrous|disaster|flop(?:s|ped)?|progress|competent|incompetent|smart|dumb"
    r"|stupid|brilliant|genius|perfect|ideal|celebrated|acclaimed|influential|memorable|beloved|renowned"
    r"|prestigious|talked[- ]about|hyped|hot|hotter|hottest|trendy|trending"
    r"|(?:do|does|did|perform|performs|performed|play|plays|played|go|goes|went|fare|fares|fared)"
    r" (?:well|badly|poorly)"
)

#: Time words with no anchor at all: always vague.
VAGUE_TIME: Final = (
    r"(?i:\bsoon\b|\bshortly\b|\bin the (?:near|foreseeable) future\b|\bin the coming (?:days|weeks|months|years)\b"
    r"|\beventually\b|\bsomeday\b|\bat some point\b|\bbefore long\b|\bin due course\b|\bany ?time now\b"
    r"|\bsooner or later\b)"
)
#: Dates relative to the reader's "now" ("next week", "tomorrow", "in 3 days"): vague unless the text
#: also gives a calendar date.
RELATIVE_TIME: Final = (
    r"(?i:\btoday\b|\btonight\b|\btomorrow\b|\byesterday\b|\b(?:this|next|last|coming) (?:week|weekend|month"
    r"|year|quarter|season|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\bthis (?:morning"
    r"|afternoon|evening)\b|\b(?:next|coming) few (?:days|weeks|months)\b|\bend of (?:the|this) (?:day|week"
    r"|month|year|quarter|season|term|session)\b"
    r"|\bwithin (?:the )?(?:next|coming) (?:\w+ )?(?:hours?|days?|weeks?|months?|years?)\b"
    r"|\b(?:in|within) (?:\d+|a|an|one|two|three|four|five|six|seven|ten|a few) (?:hours?|days?|weeks?|months?"
    r"|years?)\b|\b(?:hours?|days?|weeks?|months?|years?) from now\b|\bupcoming\b|\blater this (?:week|month"
    r"|year)\b|\bby (?:the )?weekend\b)"
)

#: Explicit markers of a compound or conditional question.
QUESTION_MARKERS: Final = (
    r"(?i:\bboth\b|\beither\b|\bneither\b|\bas well as\b|\bin addition to\b|\band also\b|\bbut also\b"
    r"|\bwhile also\b|\band/or\b|\bas long as\b|\bprovided that\b|\bunless\b|\bif\b|\bassuming\b"
    r"|\bwhether or not\b)"
)
#: The same markers where a description's criterion sentence uses them (conditionals are normal there).
CRITERIA_MARKERS: Final = r"(?i:\bboth\b|\bas well as\b|\bin addition to\b|\band also\b|\bbut also\b|\band/or\b)"
#: "and"/"or" that do not join conditions: ranges, outcome pairs, open bounds, names; and quoted text.
NOT_CONJUNCTION: Final = (
    r"(?i:\bbetween [^?;]*? and\b|\b(?:up or down|over or under|higher or lower|above or below|yes or no"
    r"|more or less)\b|\bor (?:more|higher|greater|above|less|lower|fewer|below|later|earlier|sooner|longer)\b"
    r"|\band (?:above|over|up|higher|later)\b|\b(?:on|at|by) or (?:before|after|above|below|later)\b"
    r"|\b(?:trinidad and tobago|bosnia and herzegovina|antigua and barbuda"
    r"|saint kitts and nevis|st\. kitts and nevis|turks and caicos|sao tome and principe|são tomé and príncipe)\b)"
    r"|\"[^\"]*\"|“[^”]*”"
)
#: The question up to its last "and"/"or"/"nor" (greedy): a predicate before it means a second condition follows.
BEFORE_LAST_CONJUNCTION: Final = r"(?is)^(.*)\b(?:and|or|nor)\b"
#: Event verbs of prediction questions (any inflection); auxiliaries ("will", "be") are not in it.
EVENT_VERB: Final = (
    r"(?i:\b(?:win|lose|reach|hit|exceed|surpass|pass|beat|close|finish|announce|sign|launch|release|resign"
    r"|meet|visit|attend|become|get|say|tweet|approve|reject|cut|hike|raise|lower|invade|attack|declare|leave"
    r"|join|return|remain|stay|receive|indict|convict|arrest|ban|acquire|buy|sell|merge|score|qualify|advance"
    r"|make|lead|hold|nominate|confirm|elect|appoint|veto|testify|publish|drop|fall|rise|increase|decrease"
    r"|reduce|cross|break|go|run|endorse|pardon|impeach|die|marry|divorce|capture|take|sue|settle|agree"
    r"|happen|occur|reopen|shut|enter|withdraw|deploy|recognize|expel|suspend|arrive|surge|crash|soar|plunge"
    r"|improve|grow|introduce|implement|eliminate|abolish|legalize|adopt|lift|impose|overturn|block|dismiss"
    r"|plead|host|perform|appear|defeat|overtake|flip|outperform|gain|trade|report|file|strike|post|print|rank"
    r"|top|come|record|list|end)(?:s|es|ed|d|ing)?\b"
    r"|\b(?:won|lost|met|got|said|held|left|ran|fell|rose|became|made|took|went|led|sold|bought|broke)\b)"
)

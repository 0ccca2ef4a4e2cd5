"""Every knob of the platform simulator, as documented module constants (see docs/simulator.md).

The simulator exists to give the detector something to be wrong about: each population plants the
signals it should be caught by (or, for genuine but unusual humans, the signals it must NOT be punished
for). Keeping the knobs here, named and commented, lets a reader check a claimed signal against the
number that produces it, and lets tests override shares without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

# --- populations and strategies --------------------------------------------------------------------
# strategy -> population, in a fixed order: the position is the strategy code used internally.
STRATEGY_POPULATION: dict[str, str] = {
    "ordinary": "human",
    "prolific_creator": "unusual_human",
    "brand": "unusual_human",
    "night_shift": "unusual_human",
    "fixed_interval": "ai",
    "jittered_scheduler": "ai",
    "engagement_farm": "ai",
    "device_ring": "ai",
    "humanized": "ai",
}
STRATEGIES: tuple[str, ...] = tuple(STRATEGY_POPULATION)
POPULATIONS: tuple[str, ...] = ("human", "unusual_human", "ai")

# Default share of accounts per strategy: ~85 % ordinary humans, 5 % genuine-but-unusual, 10 % AI.
DEFAULT_SHARES: dict[str, float] = {
    "ordinary": 0.85,
    "prolific_creator": 0.02,
    "brand": 0.02,
    "night_shift": 0.01,
    "fixed_interval": 0.015,
    "jittered_scheduler": 0.02,
    "engagement_farm": 0.03,
    "device_ring": 0.015,
    "humanized": 0.02,
}

CHUNK_ACCOUNTS = 20_000  # accounts generated (and written as one part file per entity) at a time

# --- enums of the input contract -------------------------------------------------------------------
KINDS: tuple[str, ...] = ("post", "like", "collect", "comment", "share", "follow", "unfollow")
POST, LIKE, COLLECT, COMMENT, SHARE, FOLLOW, UNFOLLOW = range(7)
CLIENTS: tuple[str, ...] = ("ios", "android", "web", "mini_program", "open_api", "scheduler")
IOS, ANDROID, WEB, MINI, OPEN_API, SCHEDULER = range(6)
REPORT_REASONS: tuple[str, ...] = ("spam", "fake_account", "ai_generated", "harassment", "misinformation",
                                   "other")

# Regions (ISO 3166-1 alpha-2), their share, an approximate UTC offset (hours, no DST) and the share of
# posts written in Chinese. The circadian rhythm of an account lives in its local time.
REGIONS: tuple[str, ...] = ("CN", "HK", "TW", "SG", "MY", "US", "GB", "AU", "JP")
REGION_SHARE: tuple[float, ...] = (0.80, 0.03, 0.03, 0.02, 0.02, 0.04, 0.02, 0.02, 0.02)
REGION_UTC_OFFSET_H: tuple[int, ...] = (8, 8, 8, 8, 8, -5, 0, 10, 9)
REGION_ZH_SHARE: tuple[float, ...] = (0.93, 0.8, 0.8, 0.5, 0.5, 0.15, 0.15, 0.15, 0.3)

# Relative activity by local hour 0..23 (human population profile: lunch and late-evening peaks, a deep
# trough at 3-6 h). "office": a staff member answering for a brand during working hours.
HOURLY_PROFILE: dict[str, tuple[float, ...]] = {
    "human": (0.45, 0.28, 0.15, 0.08, 0.05, 0.05, 0.10, 0.25, 0.45, 0.55, 0.60, 0.70,
              0.90, 0.80, 0.60, 0.55, 0.55, 0.60, 0.75, 0.90, 1.00, 1.00, 0.90, 0.70),
    "office": (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.30, 0.80, 1.00, 1.00,
               0.70, 0.80, 1.00, 1.00, 0.90, 0.60, 0.25, 0.10, 0.05, 0.03, 0.02, 0.01),
}


@dataclass(frozen=True)
class Rhythm:
    """A session process in local time: Poisson sessions thinned by the daily and weekly profile."""

    sessions_per_day: float          # median over accounts
    rate_sigma: float                # lognormal spread over accounts (heavy tail of very active users)
    actions_median: float            # actions per session ~ 1 + lognormal(actions_median, actions_sigma)
    actions_sigma: float
    gap_median_s: float              # seconds between actions inside a session (lognormal)
    gap_sigma: float
    mix: tuple[float, ...]           # post, like, collect, comment, share, follow (Dirichlet mean)
    mix_concentration: float = 20.0  # per-account variation of the mix (higher = closer to the mean)
    profile: str = "human"
    phase_shift_h: float = 0.0       # population shift of the daily profile (12 h for night shifts)
    phase_sd_h: float = 1.2          # personal phase: larks and owls
    weekend: tuple[float, float] = (0.8, 1.6)   # personal multiplier of Saturday/Sunday activity
    day_skip: tuple[float, float] = (0.1, 0.5)  # personal probability of not opening the app on a day
    day_sigma: float = 0.8           # lognormal day-to-day intensity (long quiet spells, binges)


RHYTHMS: dict[str, Rhythm] = {
    "ordinary": Rhythm(0.25, 1.0, 3.0, 0.9, 25.0, 1.2, (0.05, 0.55, 0.12, 0.13, 0.05, 0.10)),
    "prolific_creator": Rhythm(3.0, 0.4, 3.0, 0.6, 40.0, 1.0, (0.40, 0.30, 0.05, 0.20, 0.02, 0.03),
                               day_skip=(0.0, 0.15)),
    "night_shift": Rhythm(0.4, 0.8, 3.0, 0.9, 25.0, 1.2, (0.06, 0.55, 0.12, 0.12, 0.05, 0.10),
                          phase_shift_h=12.0),
    # the people behind a brand account: replies and likes in office hours, on weekdays
    "brand": Rhythm(1.0, 0.5, 4.0, 0.6, 60.0, 1.0, (0.03, 0.33, 0.0, 0.55, 0.05, 0.04), profile="office",
                    phase_sd_h=0.5, weekend=(0.05, 0.2), day_skip=(0.0, 0.1), day_sigma=0.4),
    # farm phones idle between campaigns: a little background noise to look alive
    "engagement_farm": Rhythm(0.3, 0.5, 3.0, 0.5, 15.0, 0.8, (0.10, 0.60, 0.10, 0.05, 0.05, 0.10)),
    # one operator per ring: sessions in which the operator walks through several of the ring's accounts
    "device_ring": Rhythm(3.0, 0.3, 1.0, 0.1, 20.0, 0.8, (0.15, 0.45, 0.10, 0.15, 0.05, 0.10)),
    # imitates a human circadian rhythm, but too evenly: every day, the same session length
    "humanized": Rhythm(1.2, 0.3, 4.0, 0.2, 30.0, 0.5, (0.15, 0.45, 0.10, 0.25, 0.0, 0.05),
                        mix_concentration=200.0, day_skip=(0.0, 0.05), day_sigma=0.2),
}

HUMAN_CLIENT_WEIGHTS = (0.45, 0.45, 0.05, 0.05)  # ios, android, web, mini_program: an account's main app
HUMAN_CLIENT_LOYALTY = 0.85                      # share of sessions on the main app
SECOND_DEVICE_SHARE = 0.1                        # sessions on a second device (tablet / old phone)
HOME_IP_SHARE = 0.5                              # sessions from the home broadband IP (else mobile)


@dataclass(frozen=True)
class Ticker:
    """A scheduled bot: one action per tick, ticks every `minutes` (exact or with jitter)."""

    minutes: tuple[int, ...]
    minute_weights: tuple[float, ...]
    jitter_sd_s: tuple[float, float]      # personal jitter sd range; (0, 0) = exact ticks
    mix: tuple[float, ...]                # post, like, collect, comment, share, follow per tick
    quiet_share: float = 0.0              # share of accounts with a nightly quiet window
    quiet_hours: tuple[float, float] = (5.0, 7.0)
    first_tick_after_ms: int = DAY_MS     # wait a day after creation/start before the first tick
    client_weights: tuple[float, float] = (1.0, 0.0)  # open_api, scheduler


TICKERS: dict[str, Ticker] = {
    # posts or likes every exact N minutes, aligned to the clock, through the open API
    "fixed_interval": Ticker((30, 60, 90, 120, 180, 240), (0.1, 0.2, 0.2, 0.2, 0.15, 0.15),
                             (0.0, 0.0), (0.3, 0.7, 0.0, 0.0, 0.0, 0.0)),
    # a scheduler with small random jitter, often pausing at night, writing template text
    "jittered_scheduler": Ticker((30, 45, 60, 90, 120, 180), (0.15, 0.2, 0.25, 0.15, 0.15, 0.1),
                                 (20.0, 180.0), (0.35, 0.35, 0.05, 0.10, 0.0, 0.15),
                                 quiet_share=0.6, client_weights=(0.4, 0.6)),
}

# Brand accounts: posts queued in a scheduling tool, published at fixed local times of day.
BRAND_SLOTS_PER_DAY = (1, 3)          # fixed slots per account (inclusive range)
BRAND_SLOT_MINUTES = (0, 30)          # slot minute past the hour
BRAND_SLOT_HOURS = (8, 22)            # slot hours (inclusive range)
BRAND_DAY_PROB = 0.85                 # a slot is used on a given day
BRAND_PUBLISH_DELAY_MS = 3_000        # the tool publishes within this delay of the slot

# Engagement farms: lockstep campaigns on customers' posts.
FARM_SIZE = (10, 60)
FARM_CUSTOMERS = (3, 8)               # accounts paying the farm
FARM_CAMPAIGNS_PER_DAY = (1.0, 3.0)
FARM_DELAY_MEDIAN_S = 1_200.0         # from the customer's post to the farm's go signal
FARM_DELAY_SIGMA = 0.8
FARM_SPREAD_S = 20.0                  # members act within this many seconds of the go signal
FARM_PARTICIPATION = 0.8
FARM_EXTRA = {"comment": 0.4, "collect": 0.3, "share": 0.1}   # besides the like, per participant
FARM_EXTRA_DELAY_S = (2.0, 15.0)
FARM_PHASH_POOL = (5, 20)             # images shared by a farm's accounts
FARM_PHASH_FLIP = 0.3                 # share of reused images with one bit flipped (re-encoded)
FARM_PROXY_IPS = (3, 8)
FARM_BATCH_CREATION_S = 7_200         # members are registered within this window

# Device rings: a few phones and IPs behind many accounts.
RING_SIZE = (5, 40)
RING_DEVICES = (1, 4)
RING_IPS = (1, 3)
RING_SUBSET = (0.3, 1.0)              # share of the ring's accounts the operator uses in one sitting
RING_SWITCH_S = (60.0, 300.0)         # time to switch to the next account
RING_ACTIONS_MEAN = 3.0               # actions per account per sitting (1 + Poisson)
RING_INNER_FOLLOW = 0.5               # follows that go to another account of the ring
RING_INNER_ENGAGE = 0.4               # likes/comments that boost another account of the ring
RING_PHASH_SHARE = 0.5                # share of a ring's images drawn from its shared pool

# Humanized bots: replies at a stable delay after the post they answer.
HUMANIZED_REPLY_S = (30.0, 300.0)     # personal reply delay range
HUMANIZED_REPLY_CV = 0.03             # relative sd of that delay

# --- accounts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSpec:
    """Per-strategy account attributes and content habits."""

    age_median_days: float            # account age at the start of the period (lognormal)
    age_sigma: float
    new_share: float                  # created during the simulated period
    popularity: float                 # median popularity (followers proxy, lognormal sigma 1.5)
    verified: float
    declared_ai: float                # declares AI assistance (honest)
    aigc_media: float                 # share of media carrying an implicit AI label (undeclared)
    churn: float                      # share of follows undone later
    report_weight: float              # how likely other users are to report it
    text: str                         # post text style (see text.py)
    comment: str                      # comment text style
    nickname: str
    media: tuple[float, ...]          # weights of 0..9 images per post
    topics: tuple[int, int]           # topics per post (inclusive range)
    zh_bias: float = 0.0              # added to the region's Chinese share


HUMAN_MEDIA = (0.08, 0.25, 0.15, 0.15, 0.10, 0.07, 0.06, 0.04, 0.03, 0.07)
ACCOUNTS: dict[str, AccountSpec] = {
    "ordinary": AccountSpec(500, 1.0, 0.03, 1.0, 0.005, 0.01, 0.01, 0.03, 1.0, "human", "human", "human",
                            HUMAN_MEDIA, (0, 3)),
    "prolific_creator": AccountSpec(900, 0.7, 0.0, 30.0, 0.3, 0.03, 0.03, 0.02, 1.5, "human", "human",
                                    "human", HUMAN_MEDIA, (1, 3)),
    "brand": AccountSpec(1200, 0.6, 0.0, 50.0, 0.4, 0.15, 0.05, 0.0, 1.0, "brand", "brand", "brand",
                         (0.0, 0.2, 0.1, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.1), (1, 3)),
    "night_shift": AccountSpec(500, 1.0, 0.03, 1.0, 0.005, 0.01, 0.01, 0.03, 1.0, "human", "human", "human",
                               HUMAN_MEDIA, (0, 3)),
    "fixed_interval": AccountSpec(40, 1.0, 0.3, 0.2, 0.0, 0.0, 0.2, 0.0, 6.0, "ai", "ai", "default",
                                  (0.3, 0.7, 0, 0, 0, 0, 0, 0, 0, 0), (1, 2)),
    "jittered_scheduler": AccountSpec(90, 1.0, 0.15, 0.3, 0.0, 0.05, 0.3, 0.0, 5.0, "template", "template",
                                      "default", (0.1, 0.5, 0.3, 0.1, 0, 0, 0, 0, 0, 0), (3, 6)),
    "engagement_farm": AccountSpec(60, 0.8, 0.1, 0.1, 0.0, 0.0, 0.1, 0.2, 4.0, "farm", "farm", "farm",
                                   (0.1, 0.4, 0.2, 0.2, 0.1, 0, 0, 0, 0, 0), (2, 5)),
    "device_ring": AccountSpec(200, 1.0, 0.05, 0.2, 0.0, 0.0, 0.15, 0.3, 2.0, "spun", "spun", "human",
                               (0.1, 0.3, 0.2, 0.2, 0.1, 0.1, 0, 0, 0, 0), (1, 4)),
    "humanized": AccountSpec(700, 0.8, 0.0, 1.0, 0.01, 0.0, 0.4, 0.05, 1.5, "ai_varied", "ai", "human",
                             HUMAN_MEDIA, (1, 3)),
}

MAX_ACCOUNT_AGE_DAYS = 3650.0        # the platform is ten years old
POPULARITY_SIGMA = 1.5
DECLARED_POST_SHARE = 0.6             # posts marked declared_ai by an account that declares AI help
NEW_ACCOUNT_OFFSET_MS = 10 * MINUTE_MS  # first activity this long after registration at the earliest

# --- engagement, follow graph --------------------------------------------------------------------------
COMMUNITY_SIZE = 120                  # accounts that know each other (friends, classmates, a city)
COMMUNITY_ENGAGE_SHARE = 0.3          # likes/comments of humans on a friend's latest post
COMMUNITY_FOLLOW_SHARE = 0.6          # follows of humans that go to their community
ENGAGE_LAG_MEDIAN_S = 3 * 3600.0      # how old the feed post a human engages with is (lognormal)
ENGAGE_LAG_SIGMA = 1.5
FEED_ENTRIES_PER_POST = 2.0           # popularity-weighted feed: mean copies of a post
FEED_QUALITY_SIGMA = 1.0              # per-post appeal besides the author's popularity
RECIPROCITY_COMMUNITY = 0.5           # a human follows back someone of its community
RECIPROCITY_OTHER = 0.05              # ... or anyone else
FOLLOW_BACK_MEDIAN_S = 3 * 3600.0
FOLLOW_BACK_SIGMA = 1.2
UNFOLLOW_MEDIAN_S = 2 * 86400.0
UNFOLLOW_SIGMA = 1.0

# --- reports and labels ---------------------------------------------------------------------------------
REPORTER_SHARE = 0.05                 # humans who ever report someone in the period
REPORTS_PER_REPORTER = 1.5            # 1 + Poisson(this)
REPORTER_RELIABILITY = (1.5, 1.5)     # Beta(a, b): probability that a report targets a real bot
BRIGADES_PER_10K = 2.0                # coordinated mass reports against a human, per 10k accounts
BRIGADE_SIZE = (5, 30)
BRIGADE_WINDOW_S = 3_600.0
MODERATOR_ERROR_RATE = 0.01           # share of moderator labels that are wrong (flipped)


@dataclass(frozen=True)
class SimParams:
    """Overridable knobs of one run (the rest are module constants)."""

    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    chunk_accounts: int = CHUNK_ACCOUNTS
    label_fraction: float = 0.3
    moderator_error_rate: float = MODERATOR_ERROR_RATE

    def validated(self) -> SimParams:
        unknown = set(self.shares) - set(STRATEGIES)
        if unknown:
            raise ValueError(f"unknown strategies in shares: {sorted(unknown)}; known: {list(STRATEGIES)}")
        shares = {s: float(self.shares.get(s, 0.0)) for s in STRATEGIES}
        if any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
            raise ValueError("shares must be >= 0 and not all zero")
        total = sum(shares.values())
        if not 0.0 <= self.label_fraction <= 1.0:
            raise ValueError("label_fraction must be within [0, 1]")
        if self.chunk_accounts < 1:
            raise ValueError("chunk_accounts must be >= 1")
        return SimParams({s: v / total for s, v in shares.items()}, self.chunk_accounts, self.label_fraction,
                         self.moderator_error_rate)

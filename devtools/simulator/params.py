"""Every knob of the platform simulator, as documented module constants (see docs/simulator.md).

The simulator exists to give the detector something to be wrong about: each population plants the
signals it should be caught by (or, for genuine but unusual humans, the signals it must NOT be punished
for). Keeping the knobs here, named and commented, lets a reader check a claimed signal against the
number that produces it, and lets tests override shares without touching code. One module on purpose
(over 400 lines): a knob is always found here, next to the comment that says what it plants.
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
    # added for issue 12 (codes continue after the first nine, so their codes did not move)
    "hijacked": "ai",
    "dormant_sleeper": "ai",
    "loose_ring": "ai",
    "llm_persona": "ai",
    "fan_community": "unusual_human",
    "smm_manager": "unusual_human",
    "ai_assisted_creator": "unusual_human",
    "shift_worker": "unusual_human",
}
STRATEGIES: tuple[str, ...] = tuple(STRATEGY_POPULATION)
POPULATIONS: tuple[str, ...] = ("human", "unusual_human", "ai")

# Default share of accounts per strategy: 80 % ordinary humans, 8 % genuine-but-unusual, 12 % AI.
DEFAULT_SHARES: dict[str, float] = {
    "ordinary": 0.80,
    "prolific_creator": 0.02,
    "brand": 0.02,
    "night_shift": 0.01,
    "fan_community": 0.0075,
    "smm_manager": 0.0075,
    "ai_assisted_creator": 0.0075,
    "shift_worker": 0.0075,
    "fixed_interval": 0.01,
    "jittered_scheduler": 0.015,
    "engagement_farm": 0.02,
    "device_ring": 0.01,
    "humanized": 0.015,
    "hijacked": 0.0125,
    "dormant_sleeper": 0.0125,
    "loose_ring": 0.0125,
    "llm_persona": 0.0125,
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
    # the genuine owner, until the takeover: an ordinary person
    "hijacked": Rhythm(0.25, 1.0, 3.0, 0.9, 25.0, 1.2, (0.05, 0.55, 0.12, 0.13, 0.05, 0.10)),
    # nearly silent until woken: one post or like every 1-3 weeks (rate ~ 1/12 per day, 5-95 %: 1/21-1/7)
    "dormant_sleeper": Rhythm(1 / 12, 0.35, 0.05, 0.5, 20.0, 0.5, (0.35, 0.65, 0.0, 0.0, 0.0, 0.0),
                              day_skip=(0.0, 0.0), day_sigma=0.3),
    # between campaigns a loose ring's account passes for a person (software-run, human-ish timing)
    "loose_ring": Rhythm(0.5, 0.5, 3.0, 0.8, 25.0, 1.1, (0.10, 0.50, 0.10, 0.15, 0.05, 0.10)),
    # how often and when: copied from an ordinary person (LLM_PERSONA_RATE_FACTOR); this sets the rest
    "llm_persona": Rhythm(0.25, 1.0, 3.0, 0.6, 30.0, 0.9, (0.25, 0.40, 0.05, 0.25, 0.0, 0.05)),
    "fan_community": Rhythm(0.35, 0.8, 3.0, 0.9, 20.0, 1.2, (0.04, 0.58, 0.12, 0.14, 0.05, 0.07)),
    # a social-media manager answering for several brands in office hours, on weekdays
    "smm_manager": Rhythm(1.0, 0.5, 4.0, 0.6, 60.0, 1.0, (0.03, 0.33, 0.0, 0.55, 0.05, 0.04), profile="office",
                          phase_sd_h=0.5, weekend=(0.05, 0.2), day_skip=(0.0, 0.1), day_sigma=0.4),
    "ai_assisted_creator": Rhythm(1.2, 0.5, 3.0, 0.7, 40.0, 1.0, (0.30, 0.35, 0.05, 0.20, 0.05, 0.05),
                                  day_skip=(0.05, 0.3)),
    # the daily profile moves with the roster (SHIFT_ROTATIONS); otherwise an ordinary person
    "shift_worker": Rhythm(0.4, 0.8, 3.0, 0.9, 25.0, 1.2, (0.06, 0.55, 0.12, 0.12, 0.05, 0.10)),
}

HUMAN_CLIENT_WEIGHTS = (0.45, 0.45, 0.05, 0.05)  # ios, android, web, mini_program: an account's main app
HUMAN_CLIENT_LOYALTY = 0.85                      # share of sessions on the main app
SECOND_DEVICE_SHARE = 0.1                        # sessions on a second device (tablet / old phone)
HOME_IP_SHARE = 0.5                              # sessions from the home broadband IP (else mobile)

# Network prefixes (the /24 of an IPv4 address; ingest keeps an HMAC of it). Home broadband addresses are
# spread over the whole broadband space (one household, one /24 of its own, practically). Mobile carriers
# put many unrelated subscribers behind few addresses (CGNAT): a person's mobile sessions come from its
# carrier's small set of /24s, shared with thousands of strangers. Cloud servers sit in the providers' few
# /24s, shared by unrelated tenants. A proxy pool (farm, ring, sleeper cell, hijack batch) fills its /24s
# a few addresses at a time, so a whole pool sits in one or two /24s.
MOBILE_CARRIERS = 3                   # each person is with one carrier
MOBILE_CARRIER_PREFIXES = 96          # /24 networks of each carrier's CGNAT
CLOUD_PREFIXES = 64                   # /24 networks of the cloud providers in use
PROXY_IPS_PER_PREFIX = 4              # addresses of a proxy pool per /24


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

# Hijacked accounts: a genuine owner, then a script runs the account from the takeover on.
HIJACK_AT = (0.25, 0.75)              # takeover time, as a fraction of the window (always inside it)
HIJACK_BATCH = (1, 12)                # accounts taken over together (one leaked credential list)
HIJACK_SPREAD_H = 24.0                # a batch's accounts are taken over within this many hours
HIJACK_PROXY_IPS = (1, 4)             # the batch's takeover addresses, all in ONE /24
HIJACK_CLOUD_SHARE = 0.5              # batches behind a cloud /24 (else a proxy/VPN hosting /24)
HIJACK_API_SHARE = 0.7                # scripts on open_api/scheduler; the rest drive another app than the owner's
HIJACK_TEXT = ("ai", "template")      # post-takeover text style, by account: AI-style or spam template
# the script: one action every N minutes with jitter, a nightly pause for some, from the takeover on
HIJACK_TICKER = Ticker((20, 30, 45, 60, 90, 120), (0.1, 0.2, 0.2, 0.25, 0.15, 0.1), (10.0, 90.0),
                       (0.30, 0.35, 0.0, 0.15, 0.0, 0.20), quiet_share=0.3, first_tick_after_ms=0,
                       client_weights=(0.6, 0.4))

# Dormant sleepers: aged accounts, nearly silent, woken in cells for a campaign at the end of the window.
SLEEPER_CELL = (10, 50)
SLEEPER_WAKE_DAYS = (2.0, 4.0)        # a cell wakes this many days before the window ends (never before mid-window)
SLEEPER_TARGET_ACCOUNTS = (1, 3)      # the campaign's targets (popular accounts) ...
SLEEPER_TARGET_POSTS = (3, 8)         # ... and their latest posts it boosts
SLEEPER_GO_MEDIAN_S = 1_800.0         # from the wake-up (or the target's post) to the go signal
SLEEPER_GO_SIGMA = 0.7
SLEEPER_SPREAD_S = 3 * 3_600.0        # members act within this many seconds of a target's go signal
SLEEPER_PARTICIPATION = 0.85
SLEEPER_EXTRA = {"comment": 0.5, "share": 0.4, "collect": 0.2}   # besides the like
SLEEPER_EXTRA_DELAY_S = (20.0, 600.0)
SLEEPER_FOLLOW = 0.7                  # members follow the target account
SLEEPER_PROXY_IPS = (2, 6)            # the cell's residential proxies during the campaign

# Loose amplification rings: members join only some campaigns and act over minutes.
LOOSE_SIZE = (15, 60)
LOOSE_CUSTOMERS = (2, 6)
LOOSE_CAMPAIGNS_PER_DAY = (0.5, 2.0)
LOOSE_DELAY_MEDIAN_S = 1_800.0        # from the customer's post to the go signal
LOOSE_DELAY_SIGMA = 0.8
LOOSE_SPREAD_S = (120.0, 1_800.0)     # each participant acts 2-30 minutes after the go signal
LOOSE_PARTICIPATION = (0.3, 0.6)      # per member: probability of joining a campaign
LOOSE_EXTRA = {"comment": 0.35, "collect": 0.2, "share": 0.15}
LOOSE_EXTRA_DELAY_S = (10.0, 120.0)
LOOSE_FOLLOW = 0.5
LOOSE_PROXY_SHARE = 0.25              # campaign sessions from the ring's shared proxies (else own network)
LOOSE_PROXY_IPS = (4, 12)             # the ring's proxies: 4 per /24, so 1-3 shared prefixes

# LLM personas: a copied human rhythm, generated text, instant replies at any hour.
LLM_PERSONA_RATE_FACTOR = 1.5         # a little busier than the person whose rhythm it copies
LLM_REPLY_S = (20.0, 90.0)            # reply latency (uniform), night included

# Replies: the author of a post answers some comments on it (a comment whose actor is the post's author
# and whose target_account_id is the commenter). Per strategy: probability and latency class.
REPLY_PROB: dict[str, float] = {
    "ordinary": 0.2, "prolific_creator": 0.25, "brand": 0.4, "night_shift": 0.2, "fan_community": 0.2,
    "smm_manager": 0.4, "ai_assisted_creator": 0.35, "shift_worker": 0.2, "hijacked": 0.2, "llm_persona": 0.9,
}
REPLY_CLASS: dict[str, str] = {"brand": "office", "smm_manager": "office", "llm_persona": "instant"}  # else human
HUMAN_REPLY_MIN_S = 40.0              # reading and typing
HUMAN_REPLY_MEDIAN_S = 1_500.0        # plus a lognormal wait (minutes to hours)
HUMAN_REPLY_SIGMA = 1.4
AWAKE_HOURS = (7, 25)                 # local hours a person answers in (7:00-1:00); a reply due at night waits
OFFICE_HOURS = (9, 18)                # brand staff answer in office hours, on weekdays
WAKE_DELAY_MEDIAN_S = 1_800.0         # a deferred reply comes this long (lognormal) after the window opens
WAKE_DELAY_SIGMA = 1.0

# Fan communities: fans of a celebrity react to its posts within minutes (organic, not coordinated).
FAN_CLUB = (30, 300)
FAN_REACT = (0.2, 0.8)                # per fan: share of the celebrity's posts it reacts to
FAN_DELAY_MEDIAN_S = 150.0            # from the post (push notification) to the fan's like
FAN_DELAY_SIGMA = 0.9
FAN_NIGHT = (1, 7)                    # local hours a fan is usually asleep ...
FAN_NIGHT_SKIP = 0.85                 # ... and misses the post
FAN_EXTRA = {"comment": 0.5, "share": 0.15, "collect": 0.1}
FAN_EXTRA_DELAY_S = (5.0, 120.0)
FAN_FOLLOW = 0.3                      # fans that follow the celebrity during the window (the rest already did)

# Social-media managers: one person runs several brand accounts from one office device and IP.
SMM_GROUP = (3, 8)                    # brand accounts per manager
SMM_SLOTS = (2, 4)                    # the manager's publishing slots; each account uses 1-3 of them
SMM_PHONE_SHARE = 0.15                # sessions on the manager's phone (also shared), else the office computer

# Shift workers: the daily profile moves by this many hours, one roster step per calendar week.
SHIFT_ROTATIONS = ((0.0, 12.0), (0.0, 8.0, 16.0))

# --- accounts ---------------------------------------------------------------------------------------
MAX_ACCOUNT_AGE_DAYS = 3650.0        # the platform is ten years old
DECLARED_POST_SHARE = 0.6             # posts marked declared_ai by an account that declares AI help


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
    age_range_days: tuple[float, float] = (0.0, MAX_ACCOUNT_AGE_DAYS)   # clip of the age draw
    declared_post_share: float = DECLARED_POST_SHARE   # posts marked declared_ai, if the account declares
    declared_text: str = "ai"         # text style of those posts


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
    # styles before the takeover; after it, HIJACK_TEXT
    "hijacked": AccountSpec(600, 0.9, 0.0, 1.0, 0.005, 0.0, 0.05, 0.03, 3.0, "human", "human", "human",
                            HUMAN_MEDIA, (0, 3)),
    "dormant_sleeper": AccountSpec(1100, 0.45, 0.0, 0.3, 0.0, 0.0, 0.05, 0.0, 1.0, "spun", "ai", "human",
                                   HUMAN_MEDIA, (1, 3), age_range_days=(365.0, 2190.0)),
    "loose_ring": AccountSpec(300, 1.0, 0.05, 0.5, 0.0, 0.0, 0.1, 0.1, 1.5, "llm", "llm", "human",
                              HUMAN_MEDIA, (1, 3)),
    "llm_persona": AccountSpec(400, 0.9, 0.05, 3.0, 0.01, 0.0, 0.3, 0.05, 1.2, "llm", "llm", "human",
                               HUMAN_MEDIA, (1, 3)),
    "fan_community": AccountSpec(600, 1.0, 0.05, 0.8, 0.0, 0.01, 0.01, 0.03, 1.0, "human", "human", "human",
                                 HUMAN_MEDIA, (0, 3)),
    "smm_manager": AccountSpec(1000, 0.6, 0.0, 20.0, 0.3, 0.1, 0.05, 0.0, 1.0, "brand", "brand", "brand",
                               (0.0, 0.2, 0.1, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.1), (1, 3)),
    # declares AI help; most posts declared_ai and written with it
    "ai_assisted_creator": AccountSpec(700, 0.8, 0.0, 10.0, 0.1, 1.0, 0.02, 0.02, 1.2, "human", "human", "human",
                                       HUMAN_MEDIA, (1, 3), declared_post_share=0.85, declared_text="llm"),
    "shift_worker": AccountSpec(500, 1.0, 0.03, 1.0, 0.005, 0.01, 0.01, 0.03, 1.0, "human", "human", "human",
                                HUMAN_MEDIA, (0, 3)),
}

POPULARITY_SIGMA = 1.5
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
class Shift:
    """A platform whose AI strategies shift at `at_day` (days after the start; off unless passed to
    `simulate`): `new_strategy` exists but none of its accounts acts before the shift (they start within
    `new_spread_days` after it: bought or long-idle accounts put to work), and `retimed_strategy` (a
    ticker) keeps its accounts, clients and action mix but takes the timing of the ticker `retimed_as`
    (interval, jitter, nightly quiet window) from the shift on. Either may be None."""

    at_day: float
    new_strategy: str | None = "llm_persona"
    retimed_strategy: str | None = "fixed_interval"
    retimed_as: str = "jittered_scheduler"
    new_spread_days: float = 1.0
    labelled_before_share: float = 0.5   # of the labels of accounts seen before the shift: decided before it

    def validated(self, days: int) -> Shift:
        if not 0 < self.at_day < days:
            raise ValueError(f"shift.at_day must lie inside the window (0, {days}), got {self.at_day}")
        if self.new_strategy is not None and self.new_strategy not in STRATEGIES:
            raise ValueError(f"unknown shift.new_strategy {self.new_strategy!r}; known: {list(STRATEGIES)}")
        if self.retimed_strategy is not None and self.retimed_strategy not in TICKERS:
            raise ValueError(f"shift.retimed_strategy must be a ticker strategy {sorted(TICKERS)}, "
                             f"got {self.retimed_strategy!r}")
        if self.retimed_as not in TICKERS:
            raise ValueError(f"shift.retimed_as must be one of {sorted(TICKERS)}, got {self.retimed_as!r}")
        if not 0 <= self.labelled_before_share <= 1:
            raise ValueError("shift.labelled_before_share must lie in [0, 1]")
        if self.new_spread_days < 0:
            raise ValueError("shift.new_spread_days must be >= 0")
        return self

    def at_ms(self, start_ms: int) -> int:
        return start_ms + int(self.at_day * DAY_MS)


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

"""Pass-2 building blocks shared by activity.py, coordination.py and replies.py: the interactions of a
chunk as they are generated (before they are sorted and written), and the chunk's sessions by account."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genuine.devtools.simulator import params as P
from genuine.devtools.simulator.network import device_number, home_ip
from genuine.devtools.simulator.population import Population
from genuine.devtools.simulator.timeline import Timeline

ExtraSessions = list[tuple[np.ndarray, ...]]   # (actor, start, client, device, ip) added in pass 2


@dataclass
class Events:
    actor: list[np.ndarray] = field(default_factory=list)
    kind: list[np.ndarray] = field(default_factory=list)
    target: list[np.ndarray] = field(default_factory=list)   # target account
    post: list[np.ndarray] = field(default_factory=list)     # target post number, -1 for follows
    time: list[np.ndarray] = field(default_factory=list)
    base: list[np.ndarray] = field(default_factory=list)     # shared comment base (farm, loose ring), -1 otherwise
    style: list[np.ndarray] = field(default_factory=list)    # comment text style (text.STYLE), -1: the actor's
    reply: list[np.ndarray] = field(default_factory=list)    # a reply by the post's author (replies.py)

    def add(self, actor: np.ndarray, kind: np.ndarray | int, target: np.ndarray, post: np.ndarray | int,
            t: np.ndarray, base: np.ndarray | int = -1, style: int = -1, reply: bool = False) -> None:
        n = actor.size
        self.actor.append(actor.astype(np.int64))
        self.kind.append(np.broadcast_to(np.asarray(kind, dtype=np.int8), n).copy())
        self.target.append(target.astype(np.int64))
        self.post.append(np.broadcast_to(np.asarray(post, dtype=np.int64), n).copy())
        self.time.append(t.astype(np.int64))
        self.base.append(np.broadcast_to(np.asarray(base, dtype=np.int64), n).copy())
        self.style.append(np.full(n, style, dtype=np.int8))
        self.reply.append(np.full(n, reply, dtype=bool))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """(actor, kind, target, post, time, base, style, reply), in the order added."""
        return tuple(np.concatenate(x) if x else np.empty(0, np.int64)
                     for x in (self.actor, self.kind, self.target, self.post, self.time, self.base, self.style,
                               self.reply))


class SessionIndex:
    """The chunk's timeline sessions by (account, start): a pass-2 action of a person happens on the
    phone, app and network of that person's nearest session (the latest before it, else the next)."""

    def __init__(self, tl: Timeline, pop: Population) -> None:
        self.base = pop.start_ms - P.DAY_MS
        self.bits = int(pop.end_ms - self.base).bit_length() + 1
        order = np.lexsort((tl.s_start, tl.s_actor))
        self.actor = tl.s_actor[order].astype(np.int64)
        self.key = (self.actor << self.bits) | (tl.s_start[order] - self.base)
        self.client, self.device, self.ip = tl.s_client[order], tl.s_device[order], tl.s_ip[order]

    def near(self, actor: np.ndarray, t: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(client, device, ip) for each (actor, time); an account without sessions gets its phone at home."""
        actor = np.asarray(actor, dtype=np.int64)
        n = self.key.size
        if n == 0:
            return (np.full(actor.size, P.ANDROID, np.int8), device_number(actor, 0), home_ip(actor, seed))
        p = np.searchsorted(self.key, (actor << self.bits) | (np.asarray(t) - self.base), side="right") - 1
        before = (p >= 0) & (self.actor[np.maximum(p, 0)] == actor)
        nxt = np.minimum(p + 1, n - 1)
        after = self.actor[nxt] == actor
        at = np.where(before, np.maximum(p, 0), nxt)
        found = before | after
        return (np.where(found, self.client[at], P.ANDROID).astype(np.int8),
                np.where(found, self.device[at], device_number(actor, 0)),
                np.where(found, self.ip[at], home_ip(actor, seed)).astype(np.uint32))


def first_per_pair(a: np.ndarray, b: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    """Rows of the first time (by t) each (a, b) pair occurs."""
    key = a.astype(np.int64) * n + b
    order = np.lexsort((t, key))
    _, first = np.unique(key[order], return_index=True)
    return order[first]

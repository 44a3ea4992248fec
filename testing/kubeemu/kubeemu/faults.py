"""Fault injection: make a fraction of API requests fail, reproducibly.

    with kube_emulator.faults.inject(0.3, status=503, methods={"PATCH"}, path=r"/substratus\\.ai/", seed=1) as rule:
        ...                      # about 30 % of the matching PATCHes answer 503
    assert rule.injected > 0

Each rule draws from its own random generator, seeded, and only for the requests it matches:
the same sequence of requests gets the same failures. Rules are checked in the order they were
added; the first that fires answers. Thread-safe: tests add rules from their own thread.
"""

import dataclasses
import random
import re
import threading
from typing import Any

from kubeemu import errors

_REASONS = {
    409: (
        "Conflict",
        "Operation cannot be fulfilled on {path}: the object has been modified; please apply your "
        "changes to the latest version and try again",
    ),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    500: ("InternalError", "Internal error occurred: injected fault on {path}"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request",
    ),
}


@dataclasses.dataclass(eq=False)
class FaultRule:
    fraction: float
    status: int = 503
    methods: frozenset[str] | None = None  # None: any method
    path: re.Pattern[str] | None = None  # searched in the path with its query string; None: any
    seed: int = 0
    limit: int | None = None  # at most this many faults, then the rule stays quiet
    matched: int = 0
    injected: int = 0
    _injector: "FaultInjector | None" = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"fraction must be within [0, 1], not {self.fraction}")
        if self.status < 400:
            raise ValueError(f"a fault answers an error status (>= 400), not {self.status}")
        self._random = random.Random(self.seed)

    def fires(self, method: str, path_qs: str) -> bool:
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if self.path is not None and not self.path.search(path_qs):
            return False
        self.matched += 1
        if self.limit is not None and self.injected >= self.limit:
            return False
        if self._random.random() < self.fraction:
            self.injected += 1
            return True
        return False

    def error(self, path: str) -> errors.ApiError:
        reason, message = _REASONS.get(self.status, ("InjectedFault", "injected fault on {path}"))
        details: dict[str, Any] = {"causes": [{"reason": "InjectedFault", "message": "injected by kubeemu"}]}
        if self.status == 429:
            details["retryAfterSeconds"] = 1
        return errors.status(self.status, reason, message.format(path=path), details)

    def __enter__(self) -> "FaultRule":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._injector is not None:
            self._injector.remove(self)


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def inject(
        self,
        fraction: float = 1.0,
        status: int = 503,
        *,
        methods: set[str] | None = None,
        path: str | re.Pattern[str] | None = None,
        seed: int = 0,
        limit: int | None = None,
    ) -> FaultRule:
        rule = FaultRule(
            fraction=fraction,
            status=status,
            methods=frozenset(m.upper() for m in methods) if methods is not None else None,
            path=re.compile(path) if isinstance(path, str) else path,
            seed=seed,
            limit=limit,
            _injector=self,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, method: str, path_qs: str) -> errors.ApiError | None:
        """The error to answer instead of serving this request, if a rule fires."""
        with self._lock:
            for rule in self._rules:
                if rule.fires(method, path_qs):
                    return rule.error(path_qs.partition("?")[0])
        return None

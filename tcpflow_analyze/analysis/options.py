"""What an analysis is asked to do: the engine's timers and memory bounds,
validated once, where they are made."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..model.states import (
    DEFAULT_FIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REPORT_CONNECTIONS, DEFAULT_TIME_WAIT,
    DEFAULT_UNANSWERED,
)


@dataclass(frozen=True)
class AnalysisOptions:
    """The options the engine runs with; the report's ``options`` object."""

    time_wait: float = DEFAULT_TIME_WAIT        # TIME_WAIT's length (Linux TCP_TIMEWAIT_LEN)
    fin_timeout: float = DEFAULT_FIN_TIMEOUT    # an orphaned FIN_WAIT_2's life (tcp_fin_timeout)
    unanswered: float = DEFAULT_UNANSWERED      # silence that loses a connection (half_open's threshold)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_report_connections: int = DEFAULT_MAX_REPORT_CONNECTIONS

    def __post_init__(self):
        for name in ("time_wait", "fin_timeout", "unanswered"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"{name}: a duration in seconds, finite and not negative, not {value!r}")
        if not _is_int(self.max_connections) or self.max_connections < 1:
            raise ValueError(f"max_connections: at least 1, not {self.max_connections!r}")
        if not _is_int(self.max_report_connections) or self.max_report_connections < 0:
            raise ValueError(f"max_report_connections: 0 or more, not {self.max_report_connections!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    def share(self, fraction: float) -> "AnalysisOptions":
        """These options for one partition holding ``fraction`` of the
        connections: the memory bounds are divided, the timers are not."""
        return AnalysisOptions(self.time_wait, self.fin_timeout, self.unanswered,
                               max(1, int(self.max_connections * fraction)),
                               max(0, int(self.max_report_connections * fraction)))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

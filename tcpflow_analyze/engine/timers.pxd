# C types for engine/timers.py (pure-Python mode: timers.py is the one
# source).  Run once per connection at its end: the connection and its
# endpoints as the extension types of model/connection.pxd, so that the many
# field tests of the inferences read at a fixed offset, not by a getattr each.
import cython
from ..model.connection cimport Connection, Endpoint
from .endpoint cimport fin_acked, receive_fin, set_state

cpdef settle(Connection conn, end_ts, options, on_change=*)

@cython.locals(c=Endpoint, s=Endpoint, x=Endpoint, y=Endpoint)
cpdef infer_from_silence(Connection conn, end_ts, unanswered)

@cython.locals(c=Endpoint, s=Endpoint, x=Endpoint, y=Endpoint)
cpdef infer_lost_answers(Connection conn, end_ts)

cpdef lost_fin(Connection conn, Endpoint x, Endpoint y, t)

cpdef lost_fin_ack(Connection conn, Endpoint x, Endpoint y, t)

@cython.locals(x=Endpoint, y=Endpoint)
cpdef infer_unseen(Connection conn, end_ts)

@cython.locals(st="long long")
cpdef apply_timers(Endpoint ep, end_ts, time_wait, fin_timeout)

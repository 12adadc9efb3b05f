# C types for engine/timers.py (pure-Python mode: timers.py is the one
# source).  Run once per connection at its end: the connection and its
# endpoints as the extension types of model/connection.pxd, so that the many
# field tests of the inferences read at a fixed offset, not by a getattr each.
# The capture's end and the times compared with it are C doubles, as are the
# constants they are compared against: a test that fails (nearly every one)
# costs no object.  A time that is written (a state's date) stays the Python
# object it was, int or float, in both builds.
import cython
from ..model.connection cimport Connection, Endpoint, EndpointRare, own_connection_rare
from .endpoint cimport fin_acked, receive_fin, set_state

cdef long long EVIDENCE_INFERRED, EVIDENCE_UNKNOWN, HS_ACK, HS_SYNACK, SEQ_HALF, SEQ_MASK
cdef long long CLOSED, ESTABLISHED, FIN_WAIT_2, SYN_RECEIVED, SYN_SENT, TIME_WAIT, UNKNOWN
cdef double FIN_ANSWER_TIME, LOST_ANSWER_WAIT, SYNACK_ANSWER_TIME, SYNACK_RETRANSMIT_WAIT
cdef double SYN_RECEIVED_TIMEOUT, SYN_SENT_TIMEOUT

cpdef settle(Connection conn, double end_ts, options, on_change=*)

cpdef settle_with(Connection conn, double end_ts, unanswered, time_wait, fin_timeout)

@cython.locals(c=Endpoint, s=Endpoint)
cpdef infer_from_silence(Connection conn, double end_ts, unanswered)

cdef fin_arrived(Endpoint x, Endpoint y, double end_ts)

@cython.locals(rxmt_time=double, last_time=double)
cdef peer_gone(Endpoint x, Endpoint y, unanswered)

@cython.locals(x=Endpoint, y=Endpoint)
cpdef infer_lost_answers(Connection conn, double end_ts)

@cython.locals(waited=double, seg_time=double, rxmt_time=double, data_end="long long")
cdef lost_answer(Connection conn, Endpoint x, Endpoint y, double end_ts, list events)

@cython.locals(guess="long long")
cpdef lost_fin(Connection conn, Endpoint x, Endpoint y, t)

cpdef lost_fin_ack(Connection conn, Endpoint x, Endpoint y, t)

@cython.locals(c=Endpoint, s=Endpoint)
cdef lone_syn(Connection conn, double end_ts)

@cython.locals(x=Endpoint, y=Endpoint)
cpdef infer_unseen(Connection conn, double end_ts)

@cython.locals(st="long long")
cpdef apply_timers(Endpoint ep, double end_ts, time_wait, fin_timeout)

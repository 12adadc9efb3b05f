"""Reaching a Dask scheduler (``--engine dask --scheduler ADDRESS``) within a deadline.

distributed's ``Client`` retries a refused connection until its timeout, but
the handshake that follows the TCP connect (``distributed.comm.core.connect``
writes its own and reads the peer's) has none: a port that accepts and never
answers -- the kernel completes the TCP handshake from the listen backlog
whatever the program behind it does -- holds the run forever, and any other
server's reply is read as a frame header (an HTTP status line asked for
3 EiB).  So the handshake is tried first, under ``asyncio.wait_for``, and only
a peer that answers it as a Dask server gets a ``Client``.  Every failure is a
``SchedulerError``: one line naming the address.
"""
from __future__ import annotations

import asyncio

# Extra time for the whole probe beyond --scheduler-timeout: distributed's
# connect loop ends its last retry at the timeout itself, and a refusal
# reported then says more than "no answer".
_GRACE = 1.0


class SchedulerError(RuntimeError):
    """A scheduler address that is malformed, or where no Dask scheduler answers."""


def check_address(text: str) -> str:
    """``text`` as a scheduler address distributed can dial, or SchedulerError."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    def bad(why: str):
        return SchedulerError(f"--scheduler: {text!r} is not a scheduler address "
                              f"(tcp://HOST:PORT, or local): {why}")

    address = text.strip()
    if not address:
        raise bad("it is empty")
    try:
        scheme, loc = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            host, port = parse_host_port(loc)
            if not host:
                raise ValueError("no host")
            if not 0 < port < 65536:
                raise ValueError(f"port {port} is out of range")
    except (ValueError, TypeError) as exc:
        raise bad(str(exc) or type(exc).__name__) from None
    return address


def connect(address: str, timeout: float):
    """A ``Client`` of the scheduler at ``address`` (checked by ``check_address``)."""
    from distributed import Client
    _dial(address, timeout)
    _handshake(address, timeout)
    try:
        return Client(address, timeout=timeout)
    except Exception as exc:  # whatever the peer did; the probe showed it speaks Dask
        raise _unreachable(address, _reason(exc, timeout)) from None


def _dial(address: str, timeout: float) -> None:
    """A plain TCP connect first: distributed retries a refused connection
    until its deadline and then may report only "Timed out", without the
    refusal as its cause; the kernel's own answer is immediate and exact."""
    import socket
    from distributed.comm.addressing import parse_address, parse_host_port
    scheme, loc = parse_address(address)
    if scheme not in ("tcp", "tls"):
        return
    host, port = parse_host_port(loc)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.timeout:
        raise _unreachable(address, f"no connection within {timeout:g} s (--scheduler-timeout)") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise _unreachable(address, f"{reason[:1].lower()}{reason[1:]}") from None


def _handshake(address: str, timeout: float) -> None:
    """Connect and exchange distributed's handshake, then hang up.

    Runs its own event loop: ``asyncio.run`` turns SIGINT into the
    cancellation of this probe and a KeyboardInterrupt here."""
    from distributed.comm import connect as dial
    from distributed.security import Security

    async def probe():
        comm = await asyncio.wait_for(
            dial(address, timeout=timeout, **Security().get_connection_args("client")), timeout + _GRACE)
        await comm.close()

    try:
        asyncio.run(probe())
    except Exception as exc:  # anything the peer's bytes made distributed raise
        raise _unreachable(address, _reason(exc, timeout)) from None


def _unreachable(address: str, reason: str) -> SchedulerError:
    return SchedulerError(f"cannot reach the Dask scheduler at {address}: {reason}")


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return (f"connected, but no answer to the Dask handshake within {timeout:g} s "
                f"(--scheduler-timeout)")
    cause = _system_error(exc)
    if cause is not None:
        return f"{cause.strerror[:1].lower()}{cause.strerror[1:]} (tried for {timeout:g} s, --scheduler-timeout)"
    if isinstance(exc, OSError) and str(exc).startswith("Timed out trying to connect"):
        return f"no connection within {timeout:g} s (--scheduler-timeout)"
    from distributed.comm.core import CommClosedError
    if isinstance(exc, CommClosedError):
        return "the server closed the connection during the Dask handshake: not a Dask scheduler"
    # An HTTP (or any other) server: its reply decoded as Dask frames.
    return f"the server there is not a Dask scheduler (its answer is not the Dask protocol: {type(exc).__name__})"


def _system_error(exc: BaseException) -> OSError | None:
    """The operating system's error under distributed's wrappers (a refused
    connection, an unknown host name), if one is the cause."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None

"""Publishing a built dataset: ``spectroset push OUT --to hf|kaggle``.

    cli.py      flags → a target; defaults come from the config stored in ``OUT/build.json``
    stage.py    what goes up: file selection, Kaggle archives and metadata, ``--dry-run`` folders
    hub.py      Hugging Face Hub through ``huggingface_hub`` (create the repo, ``upload_folder``)
    kaggle.py   Kaggle through the ``kaggle`` client (create the dataset, or a new version)
    kaggle_card.py  the card, croissant.json and description as Kaggle users get them

Both publishers stage first and upload the staged folder, so ``--dry-run STAGE`` writes exactly
what a real push sends and contacts nothing. The staged folders of a real push live in
``OUT/.spectroset/publish/`` (private state, never uploaded) so that reruns find them again.

Failures. Transient ones (HTTP 408/429/5xx, dropped or refused connections) are retried here with
exponential backoff: around whole client calls for the Hub, and as the kaggle client's own
per-request hook (one layer, see ``kaggle.py``). A service that cannot be reached at all (no DNS,
refused connections, timeouts) is retried :data:`NETWORK_ATTEMPTS` times (a few seconds) and then
reported as a :class:`~builder.errors.NetworkError` (exit code 6), never as a credentials problem.
Retrying is cheap because the clients skip what already arrived: the Hub deduplicates by content
hash (LFS objects and unchanged files are not sent again) and Kaggle resumes blob uploads from
its resume records. Everything else becomes a :class:`~builder.errors.PublishError`, or a
:class:`~builder.errors.CredentialsError` naming the variable or file to set.

Secrets. Tokens are registered with :func:`add_secret` as soon as they are found, and every
message built from a client's exception goes through :func:`redact`; exceptions are re-raised
``from None`` so a ``--debug`` traceback cannot show a client's message either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from typing import Callable, Iterator, TypeVar

log = logging.getLogger("spectroset.publish")
T = TypeVar("T")

RETRY_ATTEMPTS = 5
RETRY_BASE_S = 2.0  # first delay; doubles each time, capped at RETRY_MAX_S
RETRY_MAX_S = 60.0
NETWORK_ATTEMPTS = 3  # no connection at all: 2 + 4 s of waiting, then one line (offline stays offline)
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

_secrets: set[str] = set()
_TOKEN_SHAPES = re.compile(r"\b(hf_[A-Za-z0-9]{16,}|KGAT_[A-Za-z0-9]{16,})\b|(Bearer|Basic)\s+[\w.~+/=-]+")


def add_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` blanks it wherever it shows up."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and anything shaped like a token replaced by ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return _TOKEN_SHAPES.sub(lambda m: f"{m.group(2)} ***" if m.group(2) else "***", text)


class _RedactingStream:
    """A text stream that redacts what is written to it before passing it on."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.msg += " (" + describe(record.exc_info[1]) + ")"
            record.exc_info = record.exc_text = None
        return True


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """While publishing: stdout, stderr and log handlers never show a registered secret.

    The clients print (kaggle's ``VERBOSE`` mode prints request headers) and log on their own.
    """
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    flt = _RedactingFilter()
    for handler in handlers:
        if handler is not None:
            handler.addFilter(flt)
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _RedactingStream(out), _RedactingStream(err)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for handler in handlers:
            if handler is not None:
                handler.removeFilter(flt)


def describe(exc: BaseException, limit: int = 300) -> str:
    """One short, redacted line for an exception from a client: its first line, and the first line
    of the HTTP error underneath when the client wrapped one (plus the server's own message)."""
    def first_line(e: BaseException) -> str:
        return next((line.strip() for line in str(e).splitlines() if line.strip()), e.__class__.__name__)

    text = first_line(exc)
    http = next((e for e in causes(exc) if getattr(e, "response", None) is not None), None)
    if http is not None and http is not exc:
        text = f"{text}: {first_line(http)}"
    server = getattr(http, "server_message", None)
    if server and server.strip() not in text:
        text = f"{text} ({' '.join(server.split())})"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return redact(text)


def causes(exc: BaseException):
    """``exc`` and the exceptions it was raised from, outermost first (the clients wrap a lot)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_offline(exc: BaseException) -> bool:
    """Whether ``exc`` means no answer came at all: name resolution failed, the connection was
    refused, dropped or timed out (and no HTTP status was received)."""
    import importlib
    import socket

    kinds: tuple[type, ...] = (ConnectionError, TimeoutError, socket.gaierror, socket.herror)
    for module, name in (("requests", "ConnectionError"), ("requests", "Timeout"), ("httpx", "TransportError"),
                         ("httpx2", "TransportError"), ("urllib3.exceptions", "HTTPError")):
        with contextlib.suppress(ImportError, AttributeError):
            kinds += (getattr(importlib.import_module(module), name),)
    chain = list(causes(exc))
    if any(getattr(getattr(e, "response", None), "status_code", None) for e in chain):
        return False
    return any(isinstance(e, kinds) for e in chain)


def network_error(exc: BaseException, service: str):
    """The one line for a service that could not be reached."""
    from ..errors import NetworkError

    return NetworkError(f"cannot reach {service} ({describe(exc, 160)}): check the network connection or proxy and "
                        "rerun; files already sent are not sent again")


def retrying(call: Callable[[], T], *, transient: Callable[[BaseException], bool], what: str,
             attempts: int = RETRY_ATTEMPTS, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call()``; when it fails with a transient error, wait and run it again.

    Delays are ``base * 2**i`` seconds (``base`` is ``SPECTROSET_RETRY_BASE_S``, default 2 s),
    capped at 60 s; after ``attempts`` tries the last error propagates.
    """
    base = float(os.environ.get("SPECTROSET_RETRY_BASE_S", RETRY_BASE_S))
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - classified by `transient`
            if attempt >= attempts or not transient(exc):
                raise
            if is_offline(exc):
                attempts = min(attempts, NETWORK_ATTEMPTS)
                if attempt >= attempts:
                    raise
            delay = min(RETRY_MAX_S, base * 2 ** (attempt - 1))
            log.warning("%s failed (%s); retrying in %.1f s [%d/%d]", what, describe(exc, 160), delay,
                        attempt, attempts - 1)
            sleep(delay)
    raise AssertionError("unreachable")


__all__ = ["add_secret", "causes", "describe", "is_offline", "network_error", "redact", "redacted_output", "retrying",
           "TRANSIENT_STATUS"]

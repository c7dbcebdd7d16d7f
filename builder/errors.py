"""One exception tree for spectroset.

    SpectrosetError                 root: the CLI turns any of these into one line and an exit code
    ├── ConfigError                 a config file or --set value is invalid (names the file and key)
    ├── SourceError                 the source folder or label CSV cannot be used as a whole
    │   └── NothingToBuild          the source yields no window at all (says why and what to try)
    ├── DecodeError                 one audio file cannot be read (the build skips it and reports it)
    ├── BuildError                  the build cannot go on (output locked, disk full, read-only output)
    │   ├── LockedError             another build holds the output folder
    │   └── OutsideRootError        a path would resolve through a link away from its name (names the link)
    ├── LayoutError                 a built dataset on disk is missing files or fails verification
    └── PublishError                an upload to the Hub or Kaggle failed
        ├── CredentialsError        no usable token; says which variable or file to set
        └── NetworkError            the Hub or Kaggle could not be reached at all (exit code 6)

Per-file problems are values, not exceptions, once they leave the decoder: the pipeline records
``(path, reason)`` and carries on. Only problems that make the whole run meaningless are raised.
A name from the input (a label, a file name) goes into a line for the terminal through
:func:`one_line`, so a problem is one line and no control sequence reaches the terminal.
"""

from __future__ import annotations


class SpectrosetError(Exception):
    """Root of every error spectroset raises on purpose."""

    exit_code = 1


class ConfigError(SpectrosetError, ValueError):
    """Invalid configuration. ``str()`` is one line: ``file: key: message``."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.file, self.key, self.message = file, key, message
        prefix = "".join(f"{part}: " for part in (file, key) if part)
        super().__init__(" ".join(f"{prefix}{message}".split()))


class SourceError(SpectrosetError):
    """The source folder or label file cannot be used."""

    exit_code = 2


class NothingToBuild(SourceError):
    """Not one window to build: an empty folder, no class folders, every file skipped. Exit 1, as
    a failed build, with or without ``--strict``."""

    exit_code = 1


class DecodeError(SpectrosetError):
    """One audio file cannot be decoded; ``reason`` is a short human phrase."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


class BuildError(SpectrosetError):
    """The build cannot continue; what was already built stays resumable."""

    exit_code = 3


class LockedError(BuildError):
    """Another live build holds the output folder's lock."""


class OutsideRootError(BuildError):
    """A path spectroset was about to write below ``root`` resolves elsewhere: ``link`` (a symlink on
    the way, or None for a name that is not a plain relative path) leads to ``target``."""

    def __init__(self, message: str, *, root: str, rel: str, link: str | None = None, target: str | None = None):
        self.root, self.rel, self.link, self.target = root, rel, link, target
        super().__init__(message)


class LayoutError(SpectrosetError):
    """A dataset folder is incomplete or fails checksum verification."""

    exit_code = 4


class PublishError(SpectrosetError):
    """Uploading to the Hub or Kaggle failed."""

    exit_code = 5


class CredentialsError(PublishError):
    """No usable credentials; the message names the variable or file to set."""


class NetworkError(PublishError):
    """The service could not be reached (no DNS, refused or dropped connections, timeouts) after a
    short bounded retry: not a credentials problem, and nothing the service said."""

    exit_code = 6


def one_line(text: str) -> str:
    """``text`` with line breaks, escape sequences and other non-printables as Python escapes
    (``\\n``, ``\\x1b``), so an untrusted name (file, label, --set key) prints as one harmless line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)

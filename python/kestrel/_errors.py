"""Exceptions: one KestrelError subclass per ks_status, carrying the library's message."""

# ks_status codes (include/kestrel.h)
OK = 0
ERR_IO, ERR_FORMAT, ERR_TRUNCATED, ERR_UNSUPPORTED, ERR_NOMEM = -1, -2, -3, -4, -5
ERR_INVALID_ARG, ERR_LIMIT, ERR_NOT_FOUND, ERR_NO_KV_SLOT, ERR_ABORTED = -6, -7, -8, -9, -10


class KestrelError(Exception):
    """An error reported by libkestrel: .status (the ks_status code, negative), .status_name
    ("io", "format", ...: ks_status_str) and .message (the library's one-line message)."""

    status = None
    status_name = "error"

    def __init__(self, message, status=None, status_name=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if status_name is not None:
            self.status_name = status_name

    def __str__(self):
        return self.message


class KestrelIOError(KestrelError, OSError):
    status, status_name = ERR_IO, "io"

    def __init__(self, message, status=None, status_name=None):  # OSError's (errno, strerror) form unused
        KestrelError.__init__(self, message, status, status_name)


class KestrelFormatError(KestrelError, ValueError):
    status, status_name = ERR_FORMAT, "format"


class KestrelTruncatedError(KestrelFormatError):
    status, status_name = ERR_TRUNCATED, "truncated"


class KestrelUnsupportedError(KestrelError, NotImplementedError):
    status, status_name = ERR_UNSUPPORTED, "unsupported"


class KestrelNoMemoryError(KestrelError, MemoryError):
    status, status_name = ERR_NOMEM, "nomem"


class KestrelInvalidArgumentError(KestrelError, ValueError):
    status, status_name = ERR_INVALID_ARG, "invalid argument"


class KestrelLimitError(KestrelError, ValueError):
    status, status_name = ERR_LIMIT, "limit"


class KestrelNotFoundError(KestrelError, LookupError):
    status, status_name = ERR_NOT_FOUND, "not found"


class KestrelNoKVSlotError(KestrelError):
    status, status_name = ERR_NO_KV_SLOT, "no kv slot"


class KestrelAbortedError(KestrelError):
    status, status_name = ERR_ABORTED, "aborted"


BY_STATUS = {c.status: c for c in (KestrelIOError, KestrelFormatError, KestrelTruncatedError, KestrelUnsupportedError,
                                   KestrelNoMemoryError, KestrelInvalidArgumentError, KestrelLimitError,
                                   KestrelNotFoundError, KestrelNoKVSlotError, KestrelAbortedError)}


def error_for(status, message, status_name=None):
    """The exception instance for a ks_status and message (unknown codes: plain KestrelError)."""
    cls = BY_STATUS.get(status, KestrelError)
    return cls(message or status_name or "error %d" % status, status, status_name)

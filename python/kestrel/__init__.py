"""kestrel: Python bindings for the Kestrel LLM engine (libkestrel, include/kestrel.h) through
ctypes, with an API shaped as llama-cpp-python's. See docs/PYTHON.md."""
from ._errors import (KestrelAbortedError, KestrelError, KestrelFormatError, KestrelInvalidArgumentError,
                      KestrelIOError, KestrelLimitError, KestrelNoKVSlotError, KestrelNoMemoryError,
                      KestrelNotFoundError, KestrelTruncatedError, KestrelUnsupportedError)
from ._lib import path as library_path, version as library_version
from ._batch import Batch
from .llama import LLAMA_DEFAULT_SEED, Llama, LlamaState

__version__ = "0.1.0"
__all__ = ["Llama", "LlamaState", "Batch", "LLAMA_DEFAULT_SEED", "library_path", "library_version", "KestrelError",
           "KestrelIOError", "KestrelFormatError", "KestrelTruncatedError", "KestrelUnsupportedError",
           "KestrelNoMemoryError", "KestrelInvalidArgumentError", "KestrelLimitError", "KestrelNotFoundError",
           "KestrelNoKVSlotError", "KestrelAbortedError"]

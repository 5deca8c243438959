"""Batches of sequences: ks_batch and the KV/sequence operations, llama.cpp's low-level shape."""
import ctypes

import numpy as np

from . import _lib
from ._lib import lib


class Batch:
    """The tokens of one decode (ks_batch): token i at position pos, owned by seq_ids (its KV
    cell shared by all of them), with logits kept when logits=True. Reused across decodes with
    clear()."""

    def __init__(self, capacity):
        self._b = _lib.ks_batch()
        _lib.call(lib.ks_batch_init, ctypes.byref(self._b), int(capacity))
        self.capacity = int(capacity)

    def add(self, token, pos, seq_ids=0, logits=False):
        """Appends a token. seq_ids: one sequence id or a list (the first is the one it attends
        as). Returns its index in the batch (the i of Llama.logits_ith)."""
        ids = [seq_ids] if isinstance(seq_ids, int) else list(seq_ids)
        arr = (ctypes.c_int32 * len(ids))(*ids)
        _lib.call(lib.ks_batch_add, ctypes.byref(self._b), int(token), int(pos), arr, len(ids), bool(logits))
        return self._b.n_tokens - 1

    def clear(self):
        lib.ks_batch_clear(ctypes.byref(self._b))

    def __len__(self):
        return self._b.n_tokens

    def close(self):
        if self._b is not None:
            lib.ks_batch_free(ctypes.byref(self._b))
            self._b = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SequenceOps:
    """KV cache and sequence operations on a Llama's context (seq < 0: every sequence;
    p0 < 0: from 0; p1 < 0: to the end). Methods named as llama-cpp-python's Llama._ctx.
    Whatever they change in sequence 0 shortens the high-level calls' record of it (n_tokens)
    to the positions left untouched, so a later completion never reuses a changed prefix."""

    def _c(self):
        raise NotImplementedError

    def _seq0_changed(self, seq, pos):
        """Sequence seq changed from position pos on (the high-level class keeps n_tokens)."""

    def decode_batch(self, batch):
        """Runs a Batch (ks_decode_batch). KestrelNoKVSlotError leaves the cache unchanged."""
        b = batch._b
        for i in range(b.n_tokens):
            if b.seq[i] & 1:
                self._seq0_changed(0, b.pos[i])
        _lib.call(lib.ks_decode_batch, self._c(), ctypes.byref(b))

    def logits_ith(self, i):
        """Copy of the logits (numpy float32 [n_vocab]) of token i of the last decode (-1: the
        last token with logits)."""
        p = lib.ks_context_logits(self._c(), int(i))
        if not p:
            raise IndexError("token %d of the last decode has no logits" % i)
        return np.ctypeslib.as_array(p, shape=(self.n_vocab(),)).copy()

    def embeddings_ith(self, i):
        """Copy of the final hidden state (float32 [n_embd]) of token i (context made with
        embedding=True)."""
        p = lib.ks_context_embeddings(self._c(), int(i))
        if not p:
            raise IndexError("token %d of the last decode has no embeddings (embedding=True?)" % i)
        return np.ctypeslib.as_array(p, shape=(self.n_embd(),)).copy()

    def kv_cache_seq_rm(self, seq_id, p0=-1, p1=-1):
        self._seq0_changed(seq_id, p0)
        lib.ks_seq_rm(self._c(), seq_id, p0, p1)

    def kv_cache_seq_cp(self, seq_id_src, seq_id_dst, p0=-1, p1=-1):
        self._seq0_changed(seq_id_dst, p0)
        lib.ks_seq_cp(self._c(), seq_id_src, seq_id_dst, p0, p1)

    def kv_cache_seq_keep(self, seq_id):
        if seq_id != 0:
            self._seq0_changed(0, 0)
        lib.ks_seq_keep(self._c(), seq_id)

    def kv_cache_seq_shift(self, seq_id, p0, p1, delta):
        self._seq0_changed(seq_id, p0)
        lib.ks_seq_add(self._c(), seq_id, p0, p1, delta)

    def kv_cache_seq_pos_max(self, seq_id):
        return lib.ks_seq_pos_max(self._c(), seq_id)

    def kv_cache_used(self):
        return lib.ks_kv_used(self._c())

    def kv_cache_clear(self):
        self._seq0_changed(0, 0)
        lib.ks_kv_clear(self._c())

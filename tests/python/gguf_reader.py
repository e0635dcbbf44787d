"""A small, independent GGUF reader for the PyTorch cross-check (F32 / F16 / BF16 tensors).

Written from the GGUF specification, not from lockstep's C++ reader, so that a mistake in one
is not silently shared by the other.
"""
import struct

import numpy as np

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}


class GgufReader:
    def __init__(self, path):
        self.data = open(path, "rb").read()
        self.pos = 0
        assert self.data[:4] == b"GGUF", f"{path}: not GGUF"
        self.pos = 4
        self.version = self._u32()
        n_tensors = self._u64()
        n_kv = self._u64()
        self.metadata = {}
        for _ in range(n_kv):
            key = self._string()
            self.metadata[key] = self._value(self._u32())
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._u32()
            shape = [self._u64() for _ in range(n_dims)]
            ggml_type = self._u32()
            offset = self._u64()
            infos.append((name, shape, ggml_type, offset))
        align = self.metadata.get("general.alignment", 32)
        start = (self.pos + align - 1) // align * align
        self.tensors = {}
        for name, shape, ggml_type, offset in infos:
            count = int(np.prod(shape))
            begin = start + offset
            if ggml_type == 0:
                arr = np.frombuffer(self.data, np.float32, count, begin)
            elif ggml_type == 1:
                arr = np.frombuffer(self.data, np.float16, count, begin).astype(np.float32)
            elif ggml_type == 30:
                raw = np.frombuffer(self.data, np.uint16, count, begin).astype(np.uint32) << 16
                arr = raw.view(np.float32)
            else:
                continue  # quantized tensors are not needed by the cross-check
            # GGUF shape is innermost-first; numpy wants outermost-first.
            self.tensors[name] = arr.reshape(list(reversed(shape))).astype(np.float64)

    def _u32(self):
        v = struct.unpack_from("<I", self.data, self.pos)[0]
        self.pos += 4
        return v

    def _u64(self):
        v = struct.unpack_from("<Q", self.data, self.pos)[0]
        self.pos += 8
        return v

    def _string(self):
        n = self._u64()
        s = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def _value(self, t):
        if t in _SCALARS:
            fmt = _SCALARS[t]
            v = struct.unpack_from(fmt, self.data, self.pos)[0]
            self.pos += struct.calcsize(fmt)
            return v
        if t == 8:
            return self._string()
        if t == 9:
            et = self._u32()
            n = self._u64()
            return [self._value(et) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {t}")

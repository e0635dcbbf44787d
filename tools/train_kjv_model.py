#!/usr/bin/python3
"""Train lockstep's tiny embedded default model on the King James Bible.

Everything is written here from scratch (no `tokenizers`, `safetensors` or
`transformers`): corpus extraction from Debian's `bible-kjv` package, a
byte-level BPE tokenizer (GPT-2 style), a Llama model computed exactly as
Hugging Face's LlamaForCausalLM computes it, a fixed-seed AdamW training loop,
and an exporter that writes a Hugging Face model directory:

    config.json  generation_config.json  model.safetensors  tokenizer.json
    tokenizer_config.json  training_log.json  reference_outputs.json

`lockstep convert <out> -o models/lockstep-kjv.gguf --type f32` turns that
directory into the GGUF file embedded in the project (see models/README.md).

Run with Debian's interpreter, /usr/bin/python3 (it has python3-torch and
python3-numpy):

    nice -n 10 /usr/bin/python3 tools/train_kjv_model.py --out build/kjv-hf

Determinism: all randomness comes from --seed. The learning-rate schedule is
linear warm-up, constant peak, then a cosine cool-down to min_lr. Because this
2-core machine is shared, its speed varies, so with --minutes the cool-down
start (when 75% of the budget has passed) and the final step (what the measured
speed fits into the remaining 25%) are picked from the wall clock. Both numbers
are logged; `--steps N --decay-start S` replays the run exactly (same torch
build, BLAS library and --threads) without looking at the clock.

Speed: Debian's torch calls BLAS through libblas.so.3, which by default is the
slow reference BLAS. If OpenBLAS is found (--blas-dir, default: Debian's
openblas-pthread directory) the script re-executes itself with that directory
first on LD_LIBRARY_PATH, which is roughly 8x faster on this machine.
"""

import argparse
import os
import sys

DEFAULT_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


# ---------------------------------------------------------------------------
# Command line (parsed before torch is imported: we may re-exec for OpenBLAS)
# ---------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(
        description="Train the tiny KJV Llama model and export it as a Hugging Face directory.")
    p.add_argument("--out", default="build/kjv-hf", help="output directory (default: build/kjv-hf)")
    p.add_argument("--minutes", type=float, default=30.0,
                   help="training wall-clock budget in minutes (default: 30)")
    p.add_argument("--steps", type=int, default=0,
                   help="exact number of optimiser steps; overrides --minutes (with --decay-start, "
                        "use the values from training_log.json to reproduce a run bit for bit)")
    p.add_argument("--decay-start", type=int, default=-1,
                   help="step where the cosine cool-down starts (with --steps; default 0.75*steps)")
    p.add_argument("--decay-frac", type=float, default=0.25,
                   help="with --minutes: fraction of the budget spent in the cool-down")
    p.add_argument("--threads", type=int, default=2, help="torch and BLAS threads (default: 2)")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default: 1234)")
    p.add_argument("--blas-dir", default="auto",
                   help="directory holding an OpenBLAS libblas.so.3 to use instead of the reference "
                        "BLAS; 'auto' tries %s, 'none' disables" % DEFAULT_BLAS_DIR)
    # Hyper-parameters (defaults are the embedded model's).
    p.add_argument("--vocab", type=int, default=2048, help="vocabulary size incl. <s> and </s>")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=512)
    p.add_argument("--context", type=int, default=256, help="training window = max_position_embeddings")
    p.add_argument("--batch", type=int, default=8, help="windows per optimiser step")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--min-lr-frac", type=float, default=0.1, help="final lr as a fraction of peak")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    p.add_argument("--val-frac", type=float, default=0.01, help="held-out tail of the corpus")
    return p.parse_args()


def maybe_reexec_with_openblas(args):
    """Re-exec this script with OpenBLAS first on LD_LIBRARY_PATH (once)."""
    if os.environ.get("KJV_TRAIN_REEXEC") == "1" or args.blas_dir == "none":
        return
    blas_dir = DEFAULT_BLAS_DIR if args.blas_dir == "auto" else args.blas_dir
    if not os.path.exists(os.path.join(blas_dir, "libblas.so.3")):
        if args.blas_dir != "auto":
            sys.exit("no libblas.so.3 in --blas-dir %s" % blas_dir)
        print("note: OpenBLAS not found; torch will use whatever libblas.so.3 is (maybe slow)")
        return
    env = dict(os.environ)
    old = env.get("LD_LIBRARY_PATH", "")
    env["LD_LIBRARY_PATH"] = os.path.abspath(blas_dir) + (":" + old if old else "")
    env["OPENBLAS_NUM_THREADS"] = str(args.threads)
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["KJV_TRAIN_REEXEC"] = "1"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


ARGS = parse_args()
maybe_reexec_with_openblas(ARGS)

# Everything below runs in the final process.
import hashlib  # noqa: E402
import heapq  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

BOS, EOS = "<s>", "</s>"

# The GPT-2 pre-tokenizer pattern, written verbatim into tokenizer.json.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Python's `re` has no \p{..}. On ASCII text \p{L} == [A-Za-z] and \p{N} == [0-9],
# and with re.ASCII \s == [ \t\n\r\f\v] (Unicode White_Space restricted to ASCII);
# encode() refuses anything else. The corpus itself is printable ASCII + "\n".
ASCII_PATTERN = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""", re.ASCII)
CORPUS_CHARS = set(chr(c) for c in range(32, 127)) | {"\n"}
ALLOWED_CHARS = CORPUS_CHARS | set("\t\n\v\f\r")


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------

def load_corpus():
    """Run `bible` and normalise its output.

    Returns (raw_bytes, books) where books is a list of (book_name, [line, ...]).
    Each chapter contributes a heading line such as "Genesis 1" followed by one
    line per verse (verse text only, the verse number dropped).
    """
    raw = subprocess.run(["bible", "-l10000", "gen1:1-rev22:21"], check=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE).stdout
    text = raw.decode("ascii")  # raises if the package ever ships non-ASCII text
    books = []
    verse_re = re.compile(r"^\s+(\d+) (.*)$")
    heading_re = re.compile(r"^(\S.*) (\d+)$")
    n_verses = 0
    for line in text.split("\n"):
        line = line.rstrip()
        if not line:
            continue
        m = verse_re.match(line)
        if m:
            verse = " ".join(m.group(2).split())
            books[-1][1].append(verse)
            n_verses += 1
            continue
        m = heading_re.match(line)
        if not m:
            raise ValueError("unexpected line from bible: %r" % line)
        name = m.group(1)
        if not books or books[-1][0] != name:
            books.append((name, []))
        books[-1][1].append(line)
    assert n_verses == 31102, "expected the 31102 verses of the KJV, got %d" % n_verses
    assert len(books) == 66, len(books)
    return raw, books


# ---------------------------------------------------------------------------
# Byte-level BPE tokenizer
# ---------------------------------------------------------------------------

def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) \
        + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def pretokenize(text):
    bad = set(text) - ALLOWED_CHARS
    if bad:
        raise ValueError("text outside printable ASCII + ASCII whitespace: %r" % sorted(bad)[:10])
    return ASCII_PATTERN.findall(text)


def train_bpe(text, n_base_tokens):
    """Learn byte-level BPE merges on `text` until the vocab has n_base_tokens tokens.

    Token ids 0..255 are the raw bytes in *byte order* (id b is byte b, spelled
    as bytes_to_unicode()[b]); merged tokens follow in the order they were first
    produced. Each round merges the most frequent adjacent pair over all
    pre-token occurrences; ties go to the smallest (left id, right id).
    Returns (id_to_str, merges) with merges = [(left_id, right_id), ...] in rank order.
    """
    b2u = bytes_to_unicode()
    id_to_str = [b2u[b] for b in range(256)]
    str_to_id = {s: i for i, s in enumerate(id_to_str)}

    counts = Counter(pretokenize(text))
    words = sorted(counts)                       # deterministic word order
    seqs = [list(w.encode("ascii")) for w in words]
    freqs = [counts[w] for w in words]

    pair_count = defaultdict(int)                # (a, b) -> occurrences
    where = defaultdict(set)                     # (a, b) -> word indices (superset)
    for wi, s in enumerate(seqs):
        for p in zip(s, s[1:]):
            pair_count[p] += freqs[wi]
            where[p].add(wi)
    heap = [(-c, a, b) for (a, b), c in pair_count.items()]
    heapq.heapify(heap)

    merges = []
    while len(id_to_str) < n_base_tokens:
        # Pop the best pair whose heap entry is still current (lazy deletion).
        best = None
        while heap:
            negc, a, b = heapq.heappop(heap)
            if pair_count.get((a, b), 0) == -negc:
                best = (a, b)
                break
        if best is None or -negc < 2:
            raise RuntimeError("corpus too small for %d tokens" % n_base_tokens)
        a, b = best
        merged = id_to_str[a] + id_to_str[b]
        new_id = str_to_id.get(merged)          # the same string can arise from two merges
        if new_id is None:
            new_id = len(id_to_str)
            id_to_str.append(merged)
            str_to_id[merged] = new_id
        merges.append(best)

        changed = set()
        for wi in sorted(where.pop(best)):
            s, f = seqs[wi], freqs[wi]
            for p in zip(s, s[1:]):
                pair_count[p] -= f
                changed.add(p)
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[wi] = out
            for p in zip(out, out[1:]):
                pair_count[p] += f
                where[p].add(wi)
                changed.add(p)
        for p in changed:
            c = pair_count[p]
            if c > 0:
                heapq.heappush(heap, (-c, p[0], p[1]))
            else:
                del pair_count[p]
    return id_to_str, merges


class Tokenizer:
    """Encoder/decoder equivalent to the exported tokenizer.json (HF `tokenizers` BPE)."""

    def __init__(self, id_to_str, merges):
        self.id_to_str = list(id_to_str) + [BOS, EOS]
        self.bos_id = len(id_to_str)
        self.eos_id = self.bos_id + 1
        self.str_to_id = {s: i for i, s in enumerate(self.id_to_str)}
        assert len(self.str_to_id) == len(self.id_to_str), "duplicate token strings"
        self.merges = merges
        # (left, right) -> (rank, merged id)
        self.merge_map = {}
        for rank, (a, b) in enumerate(merges):
            self.merge_map.setdefault((a, b), (rank, self.str_to_id[id_to_str[a] + id_to_str[b]]))
        b2u = bytes_to_unicode()
        self.u2b = {u: b for b, u in b2u.items()}
        self.cache = {}

    @property
    def vocab_size(self):
        return len(self.id_to_str)

    def encode_word(self, word):
        """BPE one pre-token: repeatedly merge the lowest-rank adjacent pair,
        leftmost first, one occurrence at a time (HF tokenizers' Word::merge_all)."""
        ids = self.cache.get(word)
        if ids is not None:
            return ids
        ids = list(word.encode("ascii"))
        while len(ids) > 1:
            best = None
            for i in range(len(ids) - 1):
                m = self.merge_map.get((ids[i], ids[i + 1]))
                if m is not None and (best is None or m[0] < best[0]):
                    best = (m[0], i, m[1])
            if best is None:
                break
            _, i, new_id = best
            ids[i:i + 2] = [new_id]
        self.cache[word] = ids
        return ids

    def encode(self, text, add_bos=False):
        out = [self.bos_id] if add_bos else []
        for w in pretokenize(text):
            out.extend(self.encode_word(w))
        return out

    def decode(self, ids, skip_special=True):
        parts = []
        for i in ids:
            if i in (self.bos_id, self.eos_id):
                if not skip_special:
                    parts.append(self.id_to_str[i].encode())
                continue
            parts.append(bytes(self.u2b[c] for c in self.id_to_str[i]))
        return b"".join(parts).decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------
# Token streams
# ---------------------------------------------------------------------------

def build_streams(books, tok, val_frac):
    """Tokenise the corpus into one training stream and one validation stream.

    A document is a book: <s> "Genesis 1\\n" verse\\n verse\\n ... </s>. The last
    `val_frac` of all lines (the end of Revelation) is held out; the training
    part of Revelation therefore has no </s>, the validation stream ends with it.
    Lines tokenise independently (the pre-tokenizer always splits after "\\n").
    Returns dict with train/val token arrays and line start offsets.
    """
    all_lines = [(bi, line) for bi, (_, lines) in enumerate(books) for line in lines]
    n_val = max(1, int(round(len(all_lines) * val_frac)))
    split = len(all_lines) - n_val

    def stream(lines_with_book, last_doc_closed):
        ids, starts, prev_book = [], [], None
        for bi, line in lines_with_book:
            if bi != prev_book:
                if prev_book is not None:
                    ids.append(tok.eos_id)
                ids.append(tok.bos_id)
                prev_book = bi
            starts.append(len(ids))
            ids.extend(tok.encode(line + "\n"))
        if last_doc_closed:
            ids.append(tok.eos_id)
        return np.array(ids, dtype=np.int64), np.array(starts, dtype=np.int64)

    train_ids, train_starts = stream(all_lines[:split], last_doc_closed=False)
    # Validation: the tail of the Revelation document, without its <s> (see eval).
    val_ids = []
    val_line_ids = []
    for _, line in all_lines[split:]:
        t = tok.encode(line + "\n")
        val_line_ids.append(t)
        val_ids.extend(t)
    val_line_ids[-1] = val_line_ids[-1] + [tok.eos_id]
    val_ids.append(tok.eos_id)
    val_text = "".join(line + "\n" for _, line in all_lines[split:])
    train_text = "".join(line + "\n" for _, line in all_lines[:split])
    return {
        "train_ids": train_ids, "train_starts": train_starts, "train_text": train_text,
        "val_ids": np.array(val_ids, dtype=np.int64), "val_line_ids": val_line_ids,
        "val_text": val_text, "n_lines": len(all_lines), "n_val_lines": n_val,
    }


def sample_batch(train_ids, starts, batch, T, bos_id, gen):
    """Random windows that begin at a line start, each prefixed with <s>.

    x: [B, T] inputs = <s>, w[0], ..., w[T-2];   y: [B, T] targets = w[0..T-1]
    """
    pick = torch.randint(len(starts), (batch,), generator=gen).numpy()
    x = np.empty((batch, T), dtype=np.int64)
    y = np.empty((batch, T), dtype=np.int64)
    for r, k in enumerate(pick):
        s = starts[k]
        w = train_ids[s:s + T]
        x[r, 0] = bos_id
        x[r, 1:] = w[:-1]
        y[r] = w
    return torch.from_numpy(x), torch.from_numpy(y)


def val_chunks(val_line_ids, T, bos_id):
    """Pack whole validation lines greedily into chunks of <= T tokens.

    Returns a list of (x, y) 1-D tensors: x = <s> + chunk[:-1], y = chunk.
    """
    chunks, cur = [], []
    for t in val_line_ids:
        if cur and len(cur) + len(t) > T:
            chunks.append(cur)
            cur = []
        cur = cur + t[:T]
    if cur:
        chunks.append(cur)
    return [(torch.tensor([bos_id] + c[:-1]), torch.tensor(c)) for c in chunks]


# ---------------------------------------------------------------------------
# Model: Llama, as transformers' LlamaForCausalLM computes it
# ---------------------------------------------------------------------------

class Config:
    def __init__(self, a, vocab_size, bos_id, eos_id):
        self.vocab_size = vocab_size
        self.hidden_size = a.hidden
        self.intermediate_size = a.intermediate
        self.num_hidden_layers = a.layers
        self.num_attention_heads = a.heads
        self.num_key_value_heads = a.kv_heads
        self.head_dim = a.hidden // a.heads
        self.max_position_embeddings = a.context
        self.rms_norm_eps = 1e-5
        self.rope_theta = 10000.0
        self.bos_token_id = bos_id
        self.eos_token_id = eos_id
        assert self.head_dim * a.heads == a.hidden and a.heads % a.kv_heads == 0

    def to_hf(self):
        return {
            "_name_or_path": "lockstep-kjv",
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "rope_scaling": None,
            "attention_bias": False,
            "attention_dropout": 0.0,
            "mlp_bias": False,
            "tie_word_embeddings": True,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": None,
            "initializer_range": 0.02,
            "pretraining_tp": 1,
            "use_cache": True,
            "torch_dtype": "float32",
        }


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):                                   # x: [..., D]
        var = x.pow(2).mean(-1, keepdim=True)               # [..., 1]
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rope_tables(T, head_dim, theta):
    """cos, sin: [T, head_dim], HF layout (frequencies repeated: cat(freqs, freqs))."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)    # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)                                   # [T, hd]
    return emb.cos(), emb.sin()


def rotate_half(x):                                         # x: [..., hd]
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        d = c.hidden_size
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=False)    # weight [nh*hd, d]
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)   # weight [nkv*hd, d]
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)   # weight [nkv*hd, d]
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)    # weight [d, nh*hd]

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape                                               # x: [B, T, d]
        q = self.q_proj(x).view(B, T, self.nh, self.hd).transpose(1, 2)    # [B, nh, T, hd]
        k = self.k_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)   # [B, nkv, T, hd]
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)   # [B, nkv, T, hd]
        q = q * cos + rotate_half(q) * sin                               # cos/sin: [T, hd]
        k = k * cos + rotate_half(k) * sin
        # GQA (HF repeat_kv): query head h reads kv head h // (nh / nkv).
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=1)                              # [B, nh, T, hd]
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd) + mask      # [B, nh, T, T]
        att = att.softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, self.nh * self.hd)   # [B, T, nh*hd]
        return self.o_proj(y)                                            # [B, T, d]


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c.hidden_size, c.intermediate_size
        self.gate_proj = nn.Linear(d, f, bias=False)    # [f, d]
        self.up_proj = nn.Linear(d, f, bias=False)      # [f, d]
        self.down_proj = nn.Linear(f, d, bias=False)    # [d, f]

    def forward(self, x):                               # [B, T, d] -> [B, T, d]
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)   # [V, d]
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    """Parameter names match HF's state dict (model.embed_tokens.weight, ...)."""

    def __init__(self, c):
        super().__init__()
        self.config = c
        self.model = LlamaModel(c)
        cos, sin = rope_tables(c.max_position_embeddings, c.head_dim, c.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        T = c.max_position_embeddings
        causal = torch.full((T, T), float("-inf")).triu(1)               # [T, T]
        self.register_buffer("causal_mask", causal, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        c = self.config
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * c.num_hidden_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):                                 # ids: [B, T] int64
        T = ids.shape[1]
        assert T <= self.config.max_position_embeddings
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        mask = self.causal_mask[:T, :T]
        x = self.model.embed_tokens(ids)                    # [B, T, d]
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        return x @ self.model.embed_tokens.weight.t()       # tied lm_head: [B, T, V]


def count_params(model):
    return sum(p.numel() for p in model.parameters())       # tied weight counted once


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def lr_at(step, warmup, peak, min_frac, decay_start=None, total=None):
    """Linear warm-up x (constant peak until decay_start, then cosine down to
    min_frac*peak at `total`). decay_start/total are None until decided."""
    lr = peak * min(1.0, (step + 1) / warmup)
    if decay_start is not None and step >= decay_start:
        prog = min(1.0, (step - decay_start) / max(1, total - decay_start))
        lr *= min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * prog))
    return lr


def make_optimizer(model, a):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=a.lr, betas=(0.9, 0.95), eps=1e-8)


def train_step(model, opt, x, y, lr):
    for g in opt.param_groups:
        g["lr"] = lr
    logits = model(x)                                       # [B, T, V]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


@torch.no_grad()
def evaluate(model, pairs, batch=16):
    """Mean per-token cross entropy over (x, y) pairs; returns (mean_nats, sum_nats, n_tokens)."""
    model.eval()
    total, n = 0.0, 0
    # Group equal-length chunks so they batch; order is deterministic.
    for i in range(0, len(pairs), batch):
        group = pairs[i:i + batch]
        for L in sorted(set(len(x) for x, _ in group)):
            xs = torch.stack([x for x, _ in group if len(x) == L])
            ys = torch.stack([y for x, y in group if len(x) == L])
            logits = model(xs)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ys.reshape(-1),
                                     reduction="sum").item()
            n += ys.numel()
    model.train()
    return total / n, total, n


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------

@torch.no_grad()
def generate(model, tok, prompt, n_new, temperature=0.0, top_k=0, gen=None):
    """Returns (prompt_ids, new_ids). temperature 0 = greedy. Stops at </s>."""
    model.eval()
    ids = tok.encode(prompt, add_bos=True)
    prompt_ids = list(ids)
    T = model.config.max_position_embeddings
    for _ in range(n_new):
        logits = model(torch.tensor([ids[-T:]]))[0, -1]       # [V]
        if temperature <= 0:
            nxt = int(torch.argmax(logits))
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, top_k).values[-1]
                logits = torch.where(logits < kth, torch.full_like(logits, float("-inf")), logits)
            nxt = int(torch.multinomial(logits.softmax(-1), 1, generator=gen))
        ids.append(nxt)
        if nxt == tok.eos_id:
            break
    model.train()
    return prompt_ids, ids[len(prompt_ids):]


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

def write_safetensors(path, tensors):
    """tensors: name -> float32 numpy array. Header JSON padded with spaces to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name], dtype="<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32"
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(buf[base + b:base + e], dtype="<f4").reshape(info["shape"])
    return out


def tokenizer_json(tok):
    vocab = {s: i for i, s in enumerate(tok.id_to_str)}
    merges = ["%s %s" % (tok.id_to_str[a], tok.id_to_str[b]) for a, b in tok.merges]

    def added(i):
        return {"id": i, "content": tok.id_to_str[i], "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True}

    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(tok.bos_id), added(tok.eos_id)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": GPT2_PATTERN}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": BOS, "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {BOS: {"id": BOS, "ids": [tok.bos_id], "tokens": [BOS]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges},
    }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def numpy_reference_logits(out_dir, ids):
    """Independent float64 forward pass from the exported files only (config.json +
    model.safetensors), written the way HF's modeling_llama.py computes it."""
    cfg = json.load(open(os.path.join(out_dir, "config.json")))
    W = {k: v.astype(np.float64) for k, v in read_safetensors(os.path.join(out_dir, "model.safetensors")).items()}
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, T = cfg["rms_norm_eps"], len(ids)

    def rms(x, w):
        return w * (x / np.sqrt((x * x).mean(-1, keepdims=True) + eps))

    inv = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2) / hd))
    fr = np.outer(np.arange(T), inv)
    cos, sin = np.cos(np.concatenate([fr, fr], -1)), np.sin(np.concatenate([fr, fr], -1))

    def rope(x):                                            # x: [H, T, hd]
        rot = np.concatenate([-x[..., hd // 2:], x[..., :hd // 2]], -1)
        return x * cos + rot * sin

    x = W["model.embed_tokens.weight"][ids]                 # [T, d]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms(x, W[p + "input_layernorm.weight"])
        q = rope((h @ W[p + "self_attn.q_proj.weight"].T).reshape(T, nh, hd).transpose(1, 0, 2))
        k = rope((h @ W[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2))
        v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        out = np.zeros((nh, T, hd))
        for head in range(nh):
            kv = head // (nh // nkv)
            s = q[head] @ k[kv].T / math.sqrt(hd) + np.triu(np.full((T, T), -np.inf), 1)
            s = np.exp(s - s.max(-1, keepdims=True))
            out[head] = (s / s.sum(-1, keepdims=True)) @ v[kv]
        x = x + out.transpose(1, 0, 2).reshape(T, nh * hd) @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"])
    return x @ W["model.embed_tokens.weight"].T             # [T, V]


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
        return libs
    except OSError:
        return []


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def main():
    a = ARGS
    t_start = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.use_deterministic_algorithms(True)
    log("torch %s, threads %d, BLAS %s" % (torch.__version__, a.threads, blas_library() or "?"))

    # a. corpus --------------------------------------------------------------
    raw, books = load_corpus()
    corpus_text = "".join(line + "\n" for _, lines in books for line in lines)
    bad = set(corpus_text) - CORPUS_CHARS
    assert not bad, "corpus is not printable ASCII: %r" % bad
    log("corpus: %d books, %d lines, %d bytes (ASCII), raw sha256 %s"
        % (len(books), corpus_text.count("\n"), len(corpus_text), hashlib.sha256(raw).hexdigest()))

    # b. tokenizer -----------------------------------------------------------
    all_lines = [line for _, lines in books for line in lines]
    split = len(all_lines) - max(1, int(round(len(all_lines) * a.val_frac)))
    train_text = "".join(line + "\n" for line in all_lines[:split])
    t0 = time.time()
    id_to_str, merges = train_bpe(train_text, a.vocab - 2)
    tok = Tokenizer(id_to_str, merges)
    assert tok.vocab_size == a.vocab
    log("tokenizer: %d merges, vocab %d (bytes 0..255 in byte order, merged %d..%d, <s>=%d, </s>=%d), %.1fs"
        % (len(merges), tok.vocab_size, 256, tok.bos_id - 1, tok.bos_id, tok.eos_id, time.time() - t0))

    data = build_streams(books, tok, a.val_frac)
    for name in ("val_text", "train_text"):
        ids = tok.encode(data[name])
        assert tok.decode(ids) == data[name], "encode->decode round trip failed on " + name
    assert data["train_text"] == train_text
    n_tokens = len(data["train_ids"]) + len(data["val_ids"])
    log("tokens: train %d, val %d (%d held-out lines), %.2f bytes/token; round trip OK"
        % (len(data["train_ids"]), len(data["val_ids"]), data["n_val_lines"],
           len(corpus_text) / (n_tokens - 2 * len(books))))

    # c. model + training ----------------------------------------------------
    cfg = Config(a, tok.vocab_size, tok.bos_id, tok.eos_id)
    model = LlamaForCausalLM(cfg)
    n_params = count_params(model)
    log("model: %d params (%.2f M; %.2f MB as f32), hidden %d, layers %d, heads %d/%d, ffn %d, ctx %d"
        % (n_params, n_params / 1e6, n_params * 4 / 1e6, cfg.hidden_size, cfg.num_hidden_layers,
           cfg.num_attention_heads, cfg.num_key_value_heads, cfg.intermediate_size,
           cfg.max_position_embeddings))

    T = a.context
    starts = data["train_starts"]
    starts = starts[starts + T <= len(data["train_ids"])]
    vpairs = val_chunks(data["val_line_ids"], T, tok.bos_id)
    eval_gen = torch.Generator().manual_seed(a.seed + 1)
    tx, ty = sample_batch(data["train_ids"], starts, 32, T, tok.bos_id, eval_gen)
    tpairs = list(zip(tx, ty))
    val_bytes = len(data["val_text"])

    budget = a.minutes * 60.0
    if a.steps > 0:                               # replay mode: no clock involved
        total_steps = a.steps
        decay_start = a.decay_start if a.decay_start >= 0 else int(0.75 * total_steps)
        log("training: %d steps, cool-down from step %d" % (total_steps, decay_start))
    else:                                         # wall-clock mode: decided on the way
        total_steps = decay_start = None
        log("training: %.1f min budget, cool-down over the last %.0f%%"
            % (a.minutes, 100 * a.decay_frac))
    warmup = max(1, a.warmup)
    log("  %d windows x %d tokens per step, warmup %d, peak lr %g, min lr %g"
        % (a.batch, T, warmup, a.lr, a.lr * a.min_lr_frac))

    opt = make_optimizer(model, a)
    gen = torch.Generator().manual_seed(a.seed)
    eval_interval = max(20.0, budget / 8)        # seconds; evaluation never touches `gen`
    next_eval = eval_interval
    history, step_times = [], []
    ema = None
    t_train = time.time()
    eval_time = 0.0
    stopped_early = False
    step = 0
    while total_steps is None or step < total_steps:
        t0 = time.time()
        lr = lr_at(step, warmup, a.lr, a.min_lr_frac, decay_start, total_steps)
        x, y = sample_batch(data["train_ids"], starts, a.batch, T, tok.bos_id, gen)
        loss = train_step(model, opt, x, y, lr)
        step_times.append(time.time() - t0)
        ema = loss if ema is None else 0.95 * ema + 0.05 * loss
        step += 1
        train_el = time.time() - t_train - eval_time
        if total_steps is None and train_el >= (1 - a.decay_frac) * budget:
            # Fix the rest of the schedule from the recent speed.
            recent = float(np.median(step_times[-50:]))
            decay_start = step
            total_steps = step + max(1, int((budget - train_el) / recent))
            log("cool-down: steps %d..%d (%.2f s/step recently)" % (decay_start, total_steps, recent))
        if time.time() - t_train >= next_eval or step == total_steps:
            te = time.time()
            vl = evaluate(model, vpairs)[0]
            eval_time += time.time() - te
            next_eval = time.time() - t_train + eval_interval
            el = time.time() - t_train
            tps = step * a.batch * T / max(1e-9, el - eval_time)
            history.append({"step": step, "lr": lr, "train_loss_ema": round(ema, 4),
                            "val_loss": round(vl, 4), "elapsed_s": round(el, 1)})
            log("step %5d/%s  loss %.3f (ema %.3f)  val %.3f (ppl %.1f)  lr %.2e  %.0f tok/s  %.0fs"
                % (step, total_steps or "?", loss, ema, vl, math.exp(vl), lr, tps, el))
        if a.steps <= 0 and time.time() - t_train - eval_time > 1.5 * budget:
            log("wall-clock hard stop at 1.5x the training budget after %d steps" % step)
            stopped_early = True
            break
    steps_done = step
    train_wall = time.time() - t_train
    tokens_seen = steps_done * a.batch * T
    tok_per_s = tokens_seen / max(1e-9, train_wall - eval_time)

    train_loss = evaluate(model, tpairs)[0]
    val_loss, val_sum, val_n = evaluate(model, vpairs)
    val_bpb = val_sum / math.log(2) / val_bytes
    log("final: train loss %.4f (ppl %.2f, 32 fixed windows), val loss %.4f (ppl %.2f, %d tokens, "
        "%.3f bits/byte); %d tokens seen (%.2f epochs), %.0f tok/s, %.1f min"
        % (train_loss, math.exp(train_loss), val_loss, math.exp(val_loss), val_n, val_bpb,
           tokens_seen, tokens_seen / len(data["train_ids"]), tok_per_s, train_wall / 60))

    # d. samples ---------------------------------------------------------------
    prompts = ["In the beginning", "And the LORD said", "The LORD is my shepherd",
               "Blessed are the", "And it came to pass"]
    samples, greedy = [], {}
    sgen = torch.Generator().manual_seed(a.seed + 2)
    log("\n=== greedy ===")
    for p in prompts:
        pids, new = generate(model, tok, p, 48)
        greedy[p] = (pids, new)
        text = p + tok.decode(new)
        samples.append({"prompt": p, "mode": "greedy", "text": text})
        log("--- %r\n%s" % (p, text))
    log("\n=== sampled (temperature 0.8, top-k 40) ===")
    for p in prompts[:3]:
        for _ in range(2):
            _, new = generate(model, tok, p, 64, temperature=0.8, top_k=40, gen=sgen)
            text = p + tok.decode(new)
            samples.append({"prompt": p, "mode": "t0.8_k40", "text": text})
            log("--- %r\n%s" % (p, text))

    # e. export ----------------------------------------------------------------
    out = a.out
    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "config.json"), cfg.to_hf())
    write_json(os.path.join(out, "generation_config.json"),
               {"bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "do_sample": False})
    tensors = {n: p.detach().numpy() for n, p in model.state_dict().items()}
    assert "lm_head.weight" not in tensors
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)
    tj = tokenizer_json(tok)
    for m in tj["model"]["merges"]:                          # every merge part is a token
        l, r = m.split(" ")
        assert l in tj["model"]["vocab"] and r in tj["model"]["vocab"] and l + r in tj["model"]["vocab"]
    write_json(os.path.join(out, "tokenizer.json"), tj)
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "bos_token": BOS, "eos_token": EOS, "add_bos_token": True, "add_eos_token": False,
        "model_max_length": T, "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False})

    # Check the export: reload the safetensors into a fresh model, and run an
    # independent float64 numpy forward from the files; both must match torch.
    check_ids = tok.encode("And God said, Let there be light: and there was light.", add_bos=True)
    fresh = LlamaForCausalLM(cfg)
    fresh.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in
                           read_safetensors(os.path.join(out, "model.safetensors")).items()})
    with torch.no_grad():
        ref = model(torch.tensor([check_ids]))[0].numpy()
        assert np.array_equal(fresh(torch.tensor([check_ids]))[0].numpy(), ref)
    np_logits = numpy_reference_logits(out, check_ids)
    max_diff = float(np.abs(np_logits - ref).max())
    log("export check: safetensors reload identical; numpy float64 forward max |diff| %.2e" % max_diff)
    assert max_diff < 1e-3

    # Reference outputs for the C++ implementation's parity tests.
    refs = []
    for p in prompts:
        pids, new = greedy[p]
        with torch.no_grad():
            last = model(torch.tensor([pids]))[0, -1]
        top = torch.topk(last, 10)
        refs.append({"prompt": p, "input_ids": pids, "greedy_new_ids": new,
                     "greedy_text": tok.decode(new),
                     "last_logits_top10": [[int(i), float(v)] for v, i in zip(top.values, top.indices)]})
    write_json(os.path.join(out, "reference_outputs.json"), {
        "note": "float32 torch CPU; input_ids include <s>; greedy_new_ids: up to 48 argmax tokens, "
                "stopping after </s>; last_logits_top10: logits at the last prompt position",
        "check_text_ids": check_ids, "prompts": refs})

    write_json(os.path.join(out, "training_log.json"), {
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "seed": a.seed,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "threads": a.threads,
        "blas": blas_library(),
        "corpus": {"source": "Debian bible-kjv: bible -l10000 gen1:1-rev22:21",
                   "raw_sha256": hashlib.sha256(raw).hexdigest(),
                   "normalized_sha256": hashlib.sha256(corpus_text.encode()).hexdigest(),
                   "bytes": len(corpus_text), "lines": data["n_lines"], "val_lines": data["n_val_lines"],
                   "tokens": n_tokens, "train_tokens": len(data["train_ids"]),
                   "val_tokens": len(data["val_ids"])},
        "tokenizer": {"type": "byte-level BPE", "vocab_size": tok.vocab_size, "merges": len(merges),
                      "byte_token_order": "byte order (id b = byte b)",
                      "bos_id": tok.bos_id, "eos_id": tok.eos_id},
        "model": cfg.to_hf(),
        "parameters": n_params,
        "hyper_parameters": {"batch_windows": a.batch, "context": T, "tokens_per_step": a.batch * T,
                             "optimizer": "AdamW", "betas": [0.9, 0.95], "eps": 1e-8,
                             "peak_lr": a.lr, "min_lr": a.lr * a.min_lr_frac,
                             "schedule": "linear warmup, constant, cosine cool-down",
                             "warmup_steps": warmup, "decay_start": decay_start,
                             "weight_decay": a.weight_decay, "weight_decay_on": "2-D weights",
                             "grad_clip": 1.0, "init_std": 0.02,
                             "minutes_budget": a.minutes},
        "steps": steps_done,
        "planned_steps": total_steps,
        "stopped_early": stopped_early,
        "decay_start": decay_start,
        "replay": "--steps %d --decay-start %d --seed %d --threads %d" % (
            steps_done, decay_start if decay_start is not None else steps_done, a.seed, a.threads),
        "tokens_seen": tokens_seen,
        "epochs": tokens_seen / len(data["train_ids"]),
        "tokens_per_second": tok_per_s,
        "final_train_loss": train_loss,
        "final_val_loss": val_loss,
        "final_val_perplexity": math.exp(val_loss),
        "final_val_bits_per_byte": val_bpb,
        "train_wall_time_s": train_wall,
        "total_wall_time_s": time.time() - t_start,
        "history": history,
        "samples": samples,
        "export_check_max_abs_diff": max_diff,
    })
    log("wrote %s: %s" % (out, " ".join(sorted(os.listdir(out)))))


if __name__ == "__main__":
    main()

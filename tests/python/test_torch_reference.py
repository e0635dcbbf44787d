#!/usr/bin/env python3
"""Independent PyTorch forward pass vs lockstep's reference, on synthetic models of every
supported architecture.

The PyTorch side follows Hugging Face's modelling conventions (LlamaForCausalLM /
Qwen2ForCausalLM / Qwen3ForCausalLM): weights as [out, in], rotate_half RoPE, q/k in Hugging
Face's order (so llama GGUF q/k are un-permuted here, undoing llama.cpp's converter), float64.
For each catalog test shape:
  1. `lockstep make-model` writes a GGUF with seeded random f32 weights;
  2. `lockstep logits MODEL.gguf --tokens ...` gives lockstep's logits;
  3. this script reads the GGUF with its own reader, runs the PyTorch forward, and requires
     max |lockstep - torch| <= 1e-4 * max |torch|;
  4. it writes the same weights as a Hugging Face directory (config.json, model.safetensors,
     tokenizer.json) and requires the same agreement from `lockstep logits DIR`, which checks
     the safetensors path and the rotate_half RoPE lockstep uses for it.
Run by ctest; exit 0 = pass, 1 = fail.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GgufReader  # noqa: E402

SHAPES = ["tiny", "tiny-llama3", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"]
TOKENS = [1, 17, 300, 42, 99, 5, 260, 511, 3, 77, 128, 64, 200, 31, 450, 8]
RELATIVE_TOLERANCE = 1e-4


def read_npy(path):
    return np.load(path)


class HfConfig:
    def __init__(self, g):
        arch = g.metadata["general.architecture"]
        p = arch + "."
        self.arch = arch
        self.hidden = g.metadata[p + "embedding_length"]
        self.layers = g.metadata[p + "block_count"]
        self.ff = g.metadata[p + "feed_forward_length"]
        self.heads = g.metadata[p + "attention.head_count"]
        self.kv_heads = g.metadata.get(p + "attention.head_count_kv", self.heads)
        self.head_dim = g.metadata.get(p + "attention.key_length", self.hidden // self.heads)
        self.eps = g.metadata[p + "attention.layer_norm_rms_epsilon"]
        self.theta = g.metadata.get(p + "rope.freq_base", 10000.0)
        self.vocab = g.tensors["token_embd.weight"].shape[0]


def unpermute(w, n_head):
    """Undo llama.cpp's HF->GGUF permutation of q/k rows: [out, in] -> Hugging Face order."""
    out, inp = w.shape
    return w.reshape(n_head, out // n_head // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


def hf_state_dict(g, cfg):
    """GGUF tensors -> Hugging Face names and layouts (numpy float64, [out, in])."""
    t = g.tensors
    permuted = cfg.arch in ("llama", "mistral")
    sd = {"model.embed_tokens.weight": t["token_embd.weight"],
          "model.norm.weight": t["output_norm.weight"]}
    if "output.weight" in t:
        sd["lm_head.weight"] = t["output.weight"]
    for i in range(cfg.layers):
        b, h = f"blk.{i}.", f"model.layers.{i}."
        q, k = t[b + "attn_q.weight"], t[b + "attn_k.weight"]
        if permuted:
            q, k = unpermute(q, cfg.heads), unpermute(k, cfg.kv_heads)
        sd[h + "input_layernorm.weight"] = t[b + "attn_norm.weight"]
        sd[h + "self_attn.q_proj.weight"] = q
        sd[h + "self_attn.k_proj.weight"] = k
        sd[h + "self_attn.v_proj.weight"] = t[b + "attn_v.weight"]
        sd[h + "self_attn.o_proj.weight"] = t[b + "attn_output.weight"]
        for proj in ("q", "k", "v"):
            if b + f"attn_{proj}.bias" in t:
                sd[h + f"self_attn.{proj}_proj.bias"] = t[b + f"attn_{proj}.bias"]
        if b + "attn_q_norm.weight" in t:
            sd[h + "self_attn.q_norm.weight"] = t[b + "attn_q_norm.weight"]
            sd[h + "self_attn.k_norm.weight"] = t[b + "attn_k_norm.weight"]
        sd[h + "post_attention_layernorm.weight"] = t[b + "ffn_norm.weight"]
        sd[h + "mlp.gate_proj.weight"] = t[b + "ffn_gate.weight"]
        sd[h + "mlp.up_proj.weight"] = t[b + "ffn_up.weight"]
        sd[h + "mlp.down_proj.weight"] = t[b + "ffn_down.weight"]
    return sd


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def torch_forward(sd, cfg, rope_factors, tokens):
    """Causal LM forward as Hugging Face computes it, float64. Returns [T, vocab]."""
    w = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    T = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]  # [T, hidden]
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    if rope_factors is not None:
        inv_freq = inv_freq / torch.from_numpy(rope_factors)
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)  # [T, d/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    group = cfg.heads // cfg.kv_heads
    for i in range(cfg.layers):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], cfg.eps)
        q = h @ w[p + "self_attn.q_proj.weight"].T
        k = h @ w[p + "self_attn.k_proj.weight"].T
        v = h @ w[p + "self_attn.v_proj.weight"].T
        if p + "self_attn.q_proj.bias" in w:
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
        q = q.view(T, cfg.heads, d).transpose(0, 1)       # [heads, T, d]
        k = k.view(T, cfg.kv_heads, d).transpose(0, 1)    # [kv_heads, T, d]
        v = v.view(T, cfg.kv_heads, d).transpose(0, 1)
        if p + "self_attn.q_norm.weight" in w:
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], cfg.eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], cfg.eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(group, dim=0)
        v = v.repeat_interleave(group, dim=0)
        scores = q @ k.transpose(1, 2) / (d ** 0.5) + mask
        attn = torch.softmax(scores, dim=-1) @ v          # [heads, T, d]
        attn = attn.transpose(0, 1).reshape(T, cfg.heads * d)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], cfg.eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], cfg.eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return (x @ head.T).numpy()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_hf_directory(directory, sd, cfg, rope_meta, model_type):
    os.makedirs(directory, exist_ok=True)
    config = {"architectures": ["X"], "model_type": model_type, "hidden_size": cfg.hidden,
              "intermediate_size": cfg.ff, "num_hidden_layers": cfg.layers,
              "num_attention_heads": cfg.heads, "num_key_value_heads": cfg.kv_heads,
              "head_dim": cfg.head_dim, "rms_norm_eps": cfg.eps, "rope_theta": cfg.theta,
              "vocab_size": cfg.vocab, "max_position_embeddings": 128,
              "tie_word_embeddings": "lm_head.weight" not in sd}
    if rope_meta is not None:
        config["rope_scaling"] = rope_meta
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    write_safetensors(os.path.join(directory, "model.safetensors"), sd)
    # A byte-level BPE tokenizer with no merges: only the 256 byte tokens (the test feeds ids).
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): i for i, c in enumerate(cs)}
    tokenizer = {"version": "1.0", "added_tokens": [], "normalizer": None,
                 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                                   "trim_offsets": True, "use_regex": True},
                 "post_processor": None, "decoder": {"type": "ByteLevel"},
                 "model": {"type": "BPE", "vocab": vocab, "merges": []}}
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f)


def lockstep_logits(binary, model, tmp, name):
    out = os.path.join(tmp, name + ".npy")
    subprocess.run([binary, "logits", model, "--tokens", ",".join(map(str, TOKENS)), "-o", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return read_npy(out).astype(np.float64)


def llama3_factors(cfg, rs):
    """Per-pair frequency divisors of 'llama3' RoPE scaling, as transformers'
    _compute_llama3_parameters computes them (it returns inv_freq / divisor)."""
    import math
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    old = rs["original_max_position_embeddings"]
    low_wavelen = old / rs["low_freq_factor"]
    high_wavelen = old / rs["high_freq_factor"]
    out = []
    for f in inv_freq:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            new = f
        elif wavelen > low_wavelen:
            new = f / rs["factor"]
        else:
            smooth = (old / wavelen - rs["low_freq_factor"]) / (rs["high_freq_factor"] - rs["low_freq_factor"])
            new = (1 - smooth) * f / rs["factor"] + smooth * f
        out.append(f / new)
    return np.array(out)


def relative_error(ours, theirs):
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lockstep", required=True)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    tmp = os.path.join(args.tmp, "torch_reference")
    os.makedirs(tmp, exist_ok=True)
    torch.set_num_threads(1)
    failures = 0
    for shape in SHAPES:
        gguf = os.path.join(tmp, shape + ".gguf")
        subprocess.run([args.lockstep, "make-model", "--shape", shape, "--type", "f32",
                        "--seed", "11", "-o", gguf], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        g = GgufReader(gguf)
        cfg = HfConfig(g)
        rope_meta = read_rope_scaling(shape)
        factors = None
        if rope_meta is not None:
            # Computed here the Hugging Face way, and checked against what the GGUF carries.
            factors = llama3_factors(cfg, rope_meta)
            stored = g.tensors["rope_freqs.weight"]
            assert np.abs(stored - factors).max() < 1e-5 * factors.max(), (stored, factors)
        sd = hf_state_dict(g, cfg)
        expected = torch_forward(sd, cfg, factors, TOKENS)
        ours = lockstep_logits(args.lockstep, gguf, tmp, shape)
        err = relative_error(ours, expected)
        ok = err <= RELATIVE_TOLERANCE
        print(f"{shape:<12} {cfg.arch:<8} GGUF        max |lockstep - torch| / max |torch| = {err:.2e}"
              f" {'ok' if ok else 'FAIL'}")
        failures += not ok

        hf_dir = os.path.join(tmp, shape + "-hf")
        # GGUF calls Mistral 'llama' (as llama.cpp's converter does); Hugging Face says 'mistral'.
        model_type = "mistral" if "mistral" in shape else cfg.arch
        write_hf_directory(hf_dir, sd, cfg, rope_meta, model_type)
        ours_hf = lockstep_logits(args.lockstep, hf_dir, tmp, shape + "-hf")
        err = relative_error(ours_hf, expected)
        ok = err <= RELATIVE_TOLERANCE
        print(f"{shape:<12} {model_type:<8} safetensors max |lockstep - torch| / max |torch| = {err:.2e}"
              f" {'ok' if ok else 'FAIL'}")
        failures += not ok
    print(f"{2 * len(SHAPES) - failures} passed, {failures} failed")
    return 1 if failures else 0


def read_rope_scaling(shape):
    """The llama3 rope_scaling block of a catalog shape as config.json has it, or None."""
    import yaml  # Debian python3-yaml
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "configs", "models", shape + ".yaml")) as f:
        y = yaml.safe_load(f)
    rs = y.get("rope_scaling")
    if not rs:
        return None
    return {"rope_type": "llama3", "factor": rs["factor"], "low_freq_factor": rs["low_freq_factor"],
            "high_freq_factor": rs["high_freq_factor"],
            "original_max_position_embeddings": rs["original_context_length"]}


if __name__ == "__main__":
    sys.exit(main())

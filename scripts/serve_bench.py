#!/usr/bin/env python3
"""Measures a running `lockstep serve` (or any OpenAI-compatible server) from the client side.

  0. Client vs server (--ttft-requests R, lockstep only): R short streamed requests one after
     another on one keep-alive connection (as the SDKs send them); time to first token at the client (median, mean) beside the server's own mean
     from /metrics (lockstep_time_to_first_token_seconds), and the whole reply's time. What the
     HTTP layer and the network add is the difference.
  1. Prompt cache: the same long system prompt with two different questions, one after the
     other: time to first token (TTFT) and usage.prompt_tokens_details.cached_tokens of each.
  2. Batching: C concurrent streaming clients, each decoding N tokens, for C in --concurrency:
     aggregate tokens/s, and per-client inter-token latency P50/P99 (ms).

Standard library only:
  scripts/serve_bench.py --url http://127.0.0.1:8080 [--api-key KEY] [--system-words 600]
"""
import argparse, http.client, json, statistics, threading, time, urllib.parse


def stream(url, key, model, body):
    """POSTs a streamed chat completion; returns (arrival times of content chunks, usage)."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = dict(body, model=model, stream=True, stream_options={"include_usage": True})
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    start = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"server answered {resp.status}: {resp.read().decode()[:300]}")
    times, usage = [], None
    for raw in resp:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            usage = chunk["usage"]
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content") is not None:
            times.append(time.perf_counter() - start)
    conn.close()
    return times, usage


def server_ttft(url, key):
    """(sum s, count) of lockstep_time_to_first_token_seconds from /metrics."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", "/metrics")
    values = {}
    for line in conn.getresponse().read().decode().splitlines():
        name, _, value = line.rpartition(" ")
        values[name] = value
    conn.close()
    return (float(values.get("lockstep_time_to_first_token_seconds_sum", 0)),
            int(values.get("lockstep_time_to_first_token_seconds_count", 0)))


def ttft_client_vs_server(url, key, model, requests, tokens):
    """Streamed requests one after another on one keep-alive connection, as SDKs send them."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    body = json.dumps({"model": model, "stream": True, "max_tokens": tokens, "temperature": 0,
                       "messages": [{"role": "user", "content": "In the beginning"}]})
    before = server_ttft(url, key)
    firsts, wholes = [], []
    for i in range(requests):
        start = time.perf_counter()
        conn.request("POST", "/v1/chat/completions", body, headers)
        resp = conn.getresponse()
        first = None
        for raw in resp:
            if first is None and raw.startswith(b"data: "):
                first = time.perf_counter() - start
        wholes.append(time.perf_counter() - start)
        firsts.append(first)
    conn.close()
    after = server_ttft(url, key)
    server_mean = (after[0] - before[0]) / max(1, after[1] - before[1]) * 1000
    client_mean = statistics.mean(firsts) * 1000
    print(f"client vs server, {requests} streamed requests of {tokens} tokens on one keep-alive connection: "
          f"first token at the client median {statistics.median(firsts) * 1000:.2f} ms, mean {client_mean:.2f} ms; "
          f"the server's own mean {server_mean:.2f} ms (difference of means {client_mean - server_mean:.2f} ms); "
          f"whole reply median {statistics.median(wholes) * 1000:.1f} ms")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))] if values else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8080")
    p.add_argument("--api-key", default="")
    p.add_argument("--system-words", type=int, default=600, help="length of the shared system prompt")
    p.add_argument("--concurrency", default="1,2,4,8", help="concurrent clients to try, comma-separated")
    p.add_argument("--tokens", type=int, default=64, help="tokens each client decodes")
    p.add_argument("--ttft-requests", type=int, default=0,
                   help="measure client vs server TTFT over this many requests first (0: skip)")
    p.add_argument("--only-ttft", action="store_true", help="stop after the client vs server figures")
    a = p.parse_args()

    u = urllib.parse.urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.request("GET", "/v1/models", headers={"Authorization": "Bearer " + a.api_key} if a.api_key else {})
    model = json.loads(conn.getresponse().read())["data"][0]["id"]
    print(f"model {model} at {a.url}")
    if a.ttft_requests:
        ttft_client_vs_server(a.url, a.api_key, model, a.ttft_requests, 200)
        if a.only_ttft:
            return

    words = ("And the LORD spake unto Moses in the wilderness of Sinai, saying, Take ye the sum of "
             "all the congregation of the children of Israel. ").split()
    system = " ".join(words[i % len(words)] for i in range(a.system_words))
    for label, question in (("first", "Who spake?"), ("second", "Where?")):
        times, usage = stream(a.url, a.api_key, model, {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}],
            "max_tokens": 1, "temperature": 0})
        print(f"prompt cache, {label} request: {usage['prompt_tokens']} prompt tokens, "
              f"{usage['prompt_tokens_details']['cached_tokens']} cached, TTFT {times[0] * 1000:.1f} ms")

    for c in [int(x) for x in a.concurrency.split(",")]:
        results = [None] * c

        def client(i):
            results[i] = stream(a.url, a.api_key, model, {
                "messages": [{"role": "user", "content": f"Tell of the tribe number {i}."}],
                "max_tokens": a.tokens, "temperature": 0.8, "seed": i})

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(c)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        tokens = sum(r[1]["completion_tokens"] for r in results)
        gaps = [(b - a_) * 1000 for times, _ in results for a_, b in zip(times, times[1:])]
        ttft = statistics.median(r[0][0] for r in results) * 1000
        print(f"{c} concurrent: {tokens / wall:.1f} tokens/s in all, {tokens / wall / c:.1f} per client; "
              f"median TTFT {ttft:.0f} ms; inter-token P50 {percentile(gaps, 0.5):.1f} ms, "
              f"P99 {percentile(gaps, 0.99):.1f} ms")


if __name__ == "__main__":
    main()

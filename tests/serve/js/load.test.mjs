// A bounded load test on loopback: LOCKSTEP_LOAD_CLIENTS concurrent streaming clients (default
// 16) each send LOCKSTEP_LOAD_REQUESTS requests (default 20) one after another, max_tokens
// LOCKSTEP_LOAD_MAX_TOKENS (default 16), temperature 0.7 with a seed per request. Every request
// must succeed (a 429/503 from a full queue is a failure: run.sh gives the server --max-queue 64,
// more than the clients) and every stream must be complete: one finish_reason, a usage chunk,
// and "data: [DONE]" at the end of the raw event stream. Prints requests/s, tokens/s and the
// client-side time to first token. Afterwards no sequence may be left active or queued.
import { test } from "node:test";
import assert from "node:assert/strict";
import { authHeader, endsWithDone, makeClient, metricValue, rawRequest } from "./client.mjs";

const envInt = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name}=${value} is not a positive integer`);
  return parsed;
};
const CLIENTS = envInt("LOCKSTEP_LOAD_CLIENTS", 16);
const REQUESTS = envInt("LOCKSTEP_LOAD_REQUESTS", 20);
const MAX_TOKENS = envInt("LOCKSTEP_LOAD_MAX_TOKENS", 16);

const prompts = [
  "And God said", "In the beginning", "The LORD is my shepherd", "Blessed are the meek",
  "And Jesus answered", "Thus saith the LORD", "Now the serpent was", "Honour thy father",
];

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

// One client's requests, one after another. Returns per-request records; never throws.
async function runClient(index, model) {
  const { client, transcripts } = makeClient({ timeoutMs: 60_000 });
  const records = [];
  for (let r = 0; r < REQUESTS; r++) {
    const record = { client: index, request: r };
    const start = performance.now();
    try {
      const chat = (index + r) % 4 !== 3;  // mostly chat, some text completions
      const common = {
        model, max_tokens: MAX_TOKENS, temperature: 0.7, seed: index * 1000 + r,
        stream: true, stream_options: { include_usage: true },
      };
      const prompt = `${prompts[(index + r) % prompts.length]}`;
      const stream = chat
        ? await client.chat.completions.create({ ...common, messages: [{ role: "user", content: prompt }] })
        : await client.completions.create({ ...common, prompt });
      const finishes = [];
      let usage;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const piece = chat ? choice?.delta?.content : choice?.text;
        if (record.ttft === undefined && piece) record.ttft = performance.now() - start;
        if (choice?.finish_reason) finishes.push(choice.finish_reason);
        if (chunk.usage) usage = chunk.usage;
      }
      const transcript = transcripts.at(-1);
      const problems = [];
      if (finishes.length !== 1) problems.push(`${finishes.length} finish_reasons`);
      if (!usage) problems.push("no usage chunk");
      else if (usage.completion_tokens < 1 || usage.completion_tokens > MAX_TOKENS) {
        problems.push(`completion_tokens ${usage.completion_tokens}`);
      } else if (finishes[0] === "length" && usage.completion_tokens !== MAX_TOKENS) {
        problems.push(`finish_reason length after ${usage.completion_tokens} tokens`);
      }
      if (!transcript?.complete || !endsWithDone(transcript.text)) problems.push("no data: [DONE] at the end");
      if (record.ttft === undefined) problems.push("no text");
      if (problems.length) record.error = `incomplete stream: ${problems.join(", ")}`;
      record.tokens = usage?.completion_tokens ?? 0;
    } catch (error) {
      record.error = `${error.constructor?.name}: ${error.status ?? ""} ${error.message}`;
    }
    record.seconds = (performance.now() - start) / 1000;
    records.push(record);
  }
  return records;
}

test(`load: ${CLIENTS} concurrent streaming clients x ${REQUESTS} requests, zero errors`, async () => {
  const { client } = makeClient();
  const model = (await client.models.list()).data[0].id;

  const start = performance.now();
  const perClient = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => runClient(i, model)));
  const seconds = (performance.now() - start) / 1000;
  const records = perClient.flat();

  const errors = records.filter((r) => r.error);
  const ttfts = records.filter((r) => r.ttft !== undefined).map((r) => r.ttft).sort((a, b) => a - b);
  const tokens = records.reduce((sum, r) => sum + (r.tokens ?? 0), 0);
  console.log(`load: ${records.length} requests (${CLIENTS} clients x ${REQUESTS}) in ${seconds.toFixed(2)} s: ` +
    `${(records.length / seconds).toFixed(1)} requests/s, ${(tokens / seconds).toFixed(0)} generated tokens/s`);
  if (ttfts.length) {
    console.log(`load: time to first token (client side) median ${percentile(ttfts, 0.5).toFixed(1)} ms, ` +
      `p90 ${percentile(ttfts, 0.9).toFixed(1)} ms, max ${ttfts.at(-1).toFixed(1)} ms`);
  }
  assert.equal(records.length, CLIENTS * REQUESTS);
  assert.equal(errors.length, 0, `${errors.length} of ${records.length} requests failed; first ones:\n` +
    errors.slice(0, 5).map((r) => `  client ${r.client} request ${r.request}: ${r.error}`).join("\n"));

  // Nothing left behind: the queue is empty and every sequence released.
  const deadline = Date.now() + 10_000;
  let active, queued;
  do {
    const metrics = (await rawRequest("/metrics", { headers: authHeader() })).text;
    active = metricValue(metrics, "lockstep_active_sequences");
    queued = metricValue(metrics, "lockstep_queue_depth");
    if (active === 0 && queued === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  } while (Date.now() < deadline);
  assert.equal(active, 0, "lockstep_active_sequences after the load");
  assert.equal(queued, 0, "lockstep_queue_depth after the load");
});

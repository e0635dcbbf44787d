// lockstep serve, driven by the official openai npm client (v6) the way any application would
// drive OpenAI: listing models, chat and text completions streamed and not, seeds, stop strings,
// logprobs, errors, prompt caching, a client that hangs up mid-stream, and the metrics after it
// all. Run through run.sh, which starts the server with --api-key test-key.
//
// The embedded model is tiny (256-token context, KJV text, no chat template), so prompts are
// short and the assertions are about the API's contract, never about the text's quality.
// Tests run in file order; the last one reads /metrics after all the others.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  authHeader, endsWithDone, makeClient, metricValue, rawRequest, serverUrl,
} from "./client.mjs";

let client;
let transcripts;
let model;

before(async () => {
  ({ client, transcripts } = makeClient());
  const models = await client.models.list();
  assert.ok(models.data.length >= 1, "GET /v1/models lists no model");
  model = models.data[0].id;
});

const user = (content) => [{ role: "user", content }];

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

// The raw SSE text of the stream just read: it must have ended, with "data: [DONE]" last.
function assertLastStreamEndedWithDone() {
  const transcript = transcripts.at(-1);
  assert.ok(transcript, "the streamed response was not text/event-stream");
  assert.ok(transcript.complete, "the event stream's body did not end");
  assert.ok(endsWithDone(transcript.text),
    `the event stream did not end with "data: [DONE]": ...${JSON.stringify(transcript.text.slice(-200))}`);
}

function assertUsage(usage, { completionTokens } = {}) {
  assert.ok(usage, "no usage");
  assert.ok(Number.isInteger(usage.prompt_tokens) && usage.prompt_tokens > 0, `prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(Number.isInteger(usage.completion_tokens) && usage.completion_tokens > 0,
    `completion_tokens ${usage.completion_tokens}`);
  if (completionTokens !== undefined) assert.equal(usage.completion_tokens, completionTokens);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, "total_tokens is not the sum");
  const cached = usage.prompt_tokens_details?.cached_tokens;
  assert.ok(Number.isInteger(cached) && cached >= 0 && cached <= usage.prompt_tokens,
    `prompt_tokens_details.cached_tokens ${cached} is not within [0, prompt_tokens]`);
}

// Chat chunks: one id, exactly one finish_reason, and (with include_usage) a last chunk with no
// choices that carries the usage. Returns the concatenated content and the finish reason.
function checkChatChunks(chunks, { includeUsage }) {
  assert.ok(chunks.length >= 2, `only ${chunks.length} chunks`);
  const id = chunks[0].id;
  let content = "";
  const finishes = [];
  let sawRole = false;
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.equal(chunk.id, id, "chunks of one stream carry different ids");
    assert.equal(chunk.model, model);
    const last = i === chunks.length - 1;
    if (includeUsage && last) {
      assert.deepEqual(chunk.choices, [], "the usage chunk must have empty choices");
      return;
    }
    assert.ok(chunk.usage === undefined || chunk.usage === null, `chunk ${i} carries usage before the end`);
    assert.equal(chunk.choices.length, 1, `chunk ${i} has ${chunk.choices.length} choices`);
    const choice = chunk.choices[0];
    assert.equal(choice.index, 0);
    if (choice.delta?.role === "assistant") sawRole = true;
    if (typeof choice.delta?.content === "string") content += choice.delta.content;
    if (choice.finish_reason) finishes.push(choice.finish_reason);
  });
  assert.ok(sawRole, "no chunk's delta has role \"assistant\"");
  assert.equal(finishes.length, 1, `finish_reason set in ${finishes.length} chunks, expected exactly one`);
  const finishChunk = chunks.findIndex((c) => c.choices[0]?.finish_reason);
  assert.equal(finishChunk, chunks.length - (includeUsage ? 2 : 1), "chunks follow the finish_reason chunk");
  return { content, finish: finishes[0], usage: includeUsage ? chunks.at(-1).usage : undefined };
}

function checkCompletionChunks(chunks, { includeUsage }) {
  assert.ok(chunks.length >= 2, `only ${chunks.length} chunks`);
  let text = "";
  const finishes = [];
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.object, "text_completion");
    assert.equal(chunk.id, chunks[0].id, "chunks of one stream carry different ids");
    if (includeUsage && i === chunks.length - 1) {
      assert.deepEqual(chunk.choices, [], "the usage chunk must have empty choices");
      return;
    }
    assert.equal(chunk.choices.length, 1);
    text += chunk.choices[0].text;
    if (chunk.choices[0].finish_reason) finishes.push(chunk.choices[0].finish_reason);
  });
  assert.equal(finishes.length, 1, `finish_reason set in ${finishes.length} chunks, expected exactly one`);
  return { text, finish: finishes[0], usage: includeUsage ? chunks.at(-1).usage : undefined };
}

test("models.list names the served model; /health answers ok", async () => {
  const models = await client.models.list();
  for (const entry of models.data) {
    assert.equal(entry.object, "model");
    assert.equal(typeof entry.id, "string");
    assert.ok(entry.id.length > 0);
    assert.equal(entry.owned_by, "lockstep");
    assert.ok(Number.isInteger(entry.created));
  }
  const raw = await rawRequest("/v1/models", { headers: authHeader() });
  assert.equal(raw.status, 200);
  assert.equal(JSON.parse(raw.text).object, "list");
  const health = await rawRequest("/health", { headers: authHeader() });
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.text).status, "ok");  // more fields are fine
});

const greedyChat = { messages: user("And God said unto Moses"), max_tokens: 8, temperature: 0 };

test("chat, not streamed: a string answer, finish_reason length at max_tokens, consistent usage", async () => {
  const response = await client.chat.completions.create({ model, ...greedyChat });
  assert.equal(response.object, "chat.completion");
  assert.equal(typeof response.id, "string");
  assert.equal(response.model, model);
  assert.ok(Number.isInteger(response.created));
  assert.equal(response.choices.length, 1);
  const [choice] = response.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, "assistant");
  assert.equal(typeof choice.message.content, "string");
  assert.ok(choice.message.content.length > 0, "empty content");
  assert.equal(choice.finish_reason, "length");
  assertUsage(response.usage, { completionTokens: 8 });
});

test("chat, streamed: chunks add up to the non-streamed answer; usage chunk last; [DONE]", async () => {
  const whole = await client.chat.completions.create({ model, ...greedyChat });
  const stream = await client.chat.completions.create({
    model, ...greedyChat, stream: true, stream_options: { include_usage: true },
  });
  const chunks = await collect(stream);
  assertLastStreamEndedWithDone();
  const { content, finish, usage } = checkChatChunks(chunks, { includeUsage: true });
  assert.equal(content, whole.choices[0].message.content, "greedy stream and non-stream differ");
  assert.equal(finish, "length");
  assertUsage(usage, { completionTokens: 8 });
  assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);

  // Without include_usage: no usage chunk at all.
  const plain = await collect(await client.chat.completions.create({ model, ...greedyChat, stream: true }));
  assertLastStreamEndedWithDone();
  assert.equal(checkChatChunks(plain, { includeUsage: false }).content, content);
  assert.ok(plain.every((c) => c.choices.length === 1), "a usage chunk came without include_usage");
});

const greedyText = { prompt: "In the beginning", max_tokens: 8, temperature: 0 };

test("completions, not streamed and streamed", async () => {
  const response = await client.completions.create({ model, ...greedyText });
  assert.equal(response.object, "text_completion");
  assert.equal(response.model, model);
  assert.equal(response.choices.length, 1);
  assert.equal(typeof response.choices[0].text, "string");
  assert.ok(response.choices[0].text.length > 0, "empty text");
  assert.equal(response.choices[0].finish_reason, "length");
  assertUsage(response.usage, { completionTokens: 8 });

  const chunks = await collect(await client.completions.create({
    model, ...greedyText, stream: true, stream_options: { include_usage: true },
  }));
  assertLastStreamEndedWithDone();
  const { text, finish, usage } = checkCompletionChunks(chunks, { includeUsage: true });
  assert.equal(text, response.choices[0].text, "greedy stream and non-stream differ");
  assert.equal(finish, "length");
  assertUsage(usage, { completionTokens: 8 });
});

test("seed: the same seeded request at temperature 0.8 gives the same text", async () => {
  const request = { model, messages: user("Blessed are"), max_tokens: 24, temperature: 0.8, seed: 1234 };
  const first = await client.chat.completions.create(request);
  const second = await client.chat.completions.create(request);
  assert.equal(second.choices[0].message.content, first.choices[0].message.content);
  const streamed = checkChatChunks(await collect(await client.chat.completions.create({
    ...request, stream: true, stream_options: { include_usage: true },
  })), { includeUsage: true });
  assert.equal(streamed.content, first.choices[0].message.content, "seeded stream and non-stream differ");

  const textRequest = { model, prompt: "And the LORD spake", max_tokens: 24, temperature: 0.8, seed: 99 };
  const a = await client.completions.create(textRequest);
  const b = await client.completions.create(textRequest);
  assert.equal(b.choices[0].text, a.choices[0].text);

  // Another seed usually samples another text; not asserted (it may legitimately coincide).
  const other = await client.chat.completions.create({ ...request, seed: 5678 });
  console.log(`seed 1234: ${JSON.stringify(first.choices[0].message.content)}`);
  console.log(`seed 5678: ${JSON.stringify(other.choices[0].message.content)}` +
    (other.choices[0].message.content === first.choices[0].message.content ? " (same text)" : ""));
});

// A word of the text, at least 4 characters in, whose first occurrence is there: the rerun with
// it as the stop string must produce exactly the text before it.
function pickStop(text) {
  for (const match of text.matchAll(/[A-Za-z]{3,}/g)) {
    if (match.index >= 4 && text.indexOf(match[0]) === match.index) return match[0];
  }
  return undefined;
}

test("stop strings: the text ends right before the stop string, finish_reason stop", async () => {
  const request = { model, prompt: "And God said", max_tokens: 32, temperature: 0 };
  const free = (await client.completions.create(request)).choices[0].text;
  const stop = pickStop(free);
  assert.ok(stop, `no usable stop word in the greedy text ${JSON.stringify(free)}`);
  const expected = free.slice(0, free.indexOf(stop));

  const stopped = await client.completions.create({ ...request, stop: [stop, "@@never@@"] });
  assert.equal(stopped.choices[0].text, expected, `stop ${JSON.stringify(stop)} in ${JSON.stringify(free)}`);
  assert.equal(stopped.choices[0].finish_reason, "stop");
  assert.ok(stopped.usage.completion_tokens < 32);

  // Streamed, no part of the stop string may leak out before the server knows it matched.
  const streamed = checkCompletionChunks(
    await collect(await client.completions.create({ ...request, stop, stream: true })),
    { includeUsage: false });
  assertLastStreamEndedWithDone();
  assert.equal(streamed.text, expected, `streamed, stop ${JSON.stringify(stop)}`);
  assert.equal(streamed.finish, "stop");

  // A stop string that starts inside one token and ends inside the next (token boundaries from
  // logprobs): matched across tokens, and streamed without the held-back start leaking out.
  const probe = { model, messages: user("And Moses said"), max_tokens: 32, temperature: 0 };
  const traced = await client.chat.completions.create({ ...probe, logprobs: true });
  const pieces = traced.choices[0].logprobs.content.map((e) => e.token);
  const content = traced.choices[0].message.content;
  let straddle;
  for (let k = 1, offset = pieces[0].length; k + 1 < pieces.length && !straddle; offset += pieces[k].length, k++) {
    if (pieces[k].length < 2 || pieces[k + 1].length < 2) continue;
    const candidate = pieces[k].slice(-2) + pieces[k + 1].slice(0, 2);
    const at = offset + pieces[k].length - 2;
    if (content.indexOf(candidate) === at) straddle = { stop: candidate, expected: content.slice(0, at) };
  }
  assert.ok(straddle, `no stop string straddling two tokens in ${JSON.stringify(pieces)}`);
  const straddled = await client.chat.completions.create({ ...probe, stop: straddle.stop });
  assert.equal(straddled.choices[0].message.content, straddle.expected, `stop ${JSON.stringify(straddle.stop)}`);
  assert.equal(straddled.choices[0].finish_reason, "stop");
  const straddledStream = checkChatChunks(
    await collect(await client.chat.completions.create({ ...probe, stop: straddle.stop, stream: true })),
    { includeUsage: false });
  assertLastStreamEndedWithDone();
  assert.equal(straddledStream.content, straddle.expected, `streamed, stop ${JSON.stringify(straddle.stop)}`);
  assert.equal(straddledStream.finish, "stop");

  // Chat takes stop strings too.
  const chatFree = (await client.chat.completions.create({
    model, messages: user("Who is the LORD?"), max_tokens: 32, temperature: 0,
  })).choices[0].message.content;
  const chatStop = pickStop(chatFree);
  if (chatStop) {
    const chatStopped = await client.chat.completions.create({
      model, messages: user("Who is the LORD?"), max_tokens: 32, temperature: 0, stop: chatStop,
    });
    assert.equal(chatStopped.choices[0].message.content, chatFree.slice(0, chatFree.indexOf(chatStop)));
    assert.equal(chatStopped.choices[0].finish_reason, "stop");
  }
});

test("logprobs: one entry per token, values <= 0, top_logprobs sorted and top_logprobs long", async () => {
  const top = 3;
  const response = await client.chat.completions.create({
    model, messages: user("Thou shalt"), max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: top,
  });
  const entries = response.choices[0].logprobs?.content;
  assert.ok(Array.isArray(entries), "choices[0].logprobs.content is not an array");
  assert.equal(entries.length, response.usage.completion_tokens, "one logprobs entry per generated token");
  assert.equal(entries.map((e) => e.token).join(""), response.choices[0].message.content,
    "the logprobs tokens do not spell the content");
  for (const entry of entries) {
    assert.equal(typeof entry.token, "string");
    assert.ok(typeof entry.logprob === "number" && entry.logprob <= 0, `logprob ${entry.logprob}`);
    assert.ok(Array.isArray(entry.bytes) && entry.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
    assert.equal(Buffer.from(entry.bytes).toString("utf8"), entry.token, "bytes do not spell the token");
    assert.equal(entry.top_logprobs.length, top);
    for (let i = 0; i < top; i++) {
      const alt = entry.top_logprobs[i];
      assert.equal(typeof alt.token, "string");
      assert.ok(alt.logprob <= 0, `top logprob ${alt.logprob}`);
      if (i > 0) assert.ok(alt.logprob <= entry.top_logprobs[i - 1].logprob, "top_logprobs not sorted");
    }
    // Greedy takes the most likely token.
    assert.equal(entry.token, entry.top_logprobs[0].token);
    assert.ok(Math.abs(entry.logprob - entry.top_logprobs[0].logprob) < 1e-4);
  }
  // Without logprobs requested there are none.
  const plain = await client.chat.completions.create({ model, messages: user("Thou shalt"), max_tokens: 2 });
  assert.ok(!plain.choices[0].logprobs, "logprobs returned although not requested");
});

// Rejects with an instance of errorClass and the given status; returns the error for more checks.
async function expectError(promise, errorClass, status) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof errorClass,
    `expected ${errorClass.name}, got ${caught?.constructor?.name}: ${caught?.message}`);
  assert.equal(caught.status, status);
  assert.equal(typeof caught.error?.message, "string", "the error body has no error.message");
  return caught;
}

function assertErrorShape(raw, status) {
  assert.equal(raw.status, status, `status ${raw.status}, body ${raw.text.slice(0, 300)}`);
  let body;
  assert.doesNotThrow(() => (body = JSON.parse(raw.text)), `error body is not JSON: ${raw.text.slice(0, 300)}`);
  const { error } = body;
  assert.ok(error && typeof error === "object", "no error object");
  assert.ok(typeof error.message === "string" && error.message.length > 0, "no error.message");
  assert.equal(typeof error.type, "string", "no error.type");
  assert.ok("param" in error, "no error.param");
  assert.ok("code" in error, "no error.code");
  return error;
}

test("errors through the client: n=2, empty messages, wrong key, unknown model, context overflow", async () => {
  await expectError(client.chat.completions.create({ model, messages: user("hi"), n: 2, max_tokens: 4 }),
    OpenAI.BadRequestError, 400);
  await expectError(client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
    OpenAI.BadRequestError, 400);

  const { client: wrongKey } = makeClient({ key: "not-the-key" });
  await expectError(wrongKey.chat.completions.create({ model, messages: user("hi"), max_tokens: 4 }),
    OpenAI.AuthenticationError, 401);

  const notFound = await expectError(
    client.chat.completions.create({ model: "no-such-model", messages: user("hi"), max_tokens: 4 }),
    OpenAI.NotFoundError, 404);
  assert.equal(notFound.code, "model_not_found");

  const huge = "And it came to pass in those days, ".repeat(1500);  // ~10,000 tokens
  const overflow = await expectError(
    client.chat.completions.create({ model, messages: user(huge), max_tokens: 4 }),
    OpenAI.BadRequestError, 400);
  assert.equal(overflow.code, "context_length_exceeded");
  assert.match(overflow.error.message, /token/i);
  assert.ok((overflow.error.message.match(/\d+/g) ?? []).length >= 2,
    `the overflow message should give the token counts: ${overflow.error.message}`);
  const overflowText = await expectError(
    client.completions.create({ model, prompt: huge, max_tokens: 4 }), OpenAI.BadRequestError, 400);
  assert.equal(overflowText.code, "context_length_exceeded");
});

test("errors on the wire: OpenAI's error shape for bad JSON, wrong types, no key, a huge body", async () => {
  const post = (body, headers = authHeader()) => rawRequest("/v1/chat/completions", {
    method: "POST", body, headers: { "Content-Type": "application/json", ...headers },
  });
  assertErrorShape(await post("{\"model\": \"x\", \"messages\": [}"), 400);
  assertErrorShape(await post(JSON.stringify({ model, messages: "hi" })), 400);
  assertErrorShape(await post(JSON.stringify({ model, messages: user("hi"), max_tokens: "eight" })), 400);
  assertErrorShape(await post(JSON.stringify({ model, messages: [{ role: "user", content: 7 }] })), 400);
  assertErrorShape(await post(JSON.stringify({ model, messages: user("hi"), temperature: "hot" })), 400);
  assertErrorShape(await post(JSON.stringify({ model, messages: user("hi"), n: 3 })), 400);
  assertErrorShape(await post(JSON.stringify({ model, messages: user("hi"), max_tokens: 2 }), {}), 401);
  assertErrorShape(await rawRequest("/v1/completions", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model, prompt: "hi", max_tokens: 2 }),
  }), 401);

  // 64 MiB: past any sane body limit. The status is what matters; the server may close early.
  const big = Buffer.alloc(64 << 20, 0x61);
  const tooLarge = await post(big);
  assert.equal(tooLarge.status, 413, `a 64 MiB body got ${tooLarge.status}`);

  // The server still answers after all of that.
  const ok = await client.chat.completions.create({ model, messages: user("Amen"), max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});

const psalm = "The LORD is my shepherd; I shall not want. He maketh me to lie down in green pastures: " +
  "he leadeth me beside the still waters. He restoreth my soul: he leadeth me in the paths of " +
  "righteousness for his name's sake. Yea, though I walk through the valley of the shadow of death, " +
  "I will fear no evil: for thou art with me; thy rod and thy staff they comfort me. Thou preparest " +
  "a table before me in the presence of mine enemies: thou anointest my head with oil; my cup runneth over.";

// Streams one chat request, returning its usage and the client-side time to first content.
async function timedChat(messages) {
  const start = performance.now();
  let ttft;
  const chunks = [];
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 4, temperature: 0, stream: true, stream_options: { include_usage: true },
  });
  for await (const chunk of stream) {
    if (ttft === undefined && chunk.choices[0]?.delta?.content) ttft = performance.now() - start;
    chunks.push(chunk);
  }
  assertLastStreamEndedWithDone();
  return { usage: checkChatChunks(chunks, { includeUsage: true }).usage, ttft };
}

test("prompt caching: a repeated system prompt is served from the cache (cached_tokens > 0)", async () => {
  // The model's context is 256 tokens, so the shared prompt is ~140 tokens, not more.
  const first = await timedChat([{ role: "system", content: psalm }, { role: "user", content: "Who is my shepherd?" }]);
  const second = await timedChat([{ role: "system", content: psalm }, { role: "user", content: "What shall I fear?" }]);
  const cached1 = first.usage.prompt_tokens_details.cached_tokens;
  const cached2 = second.usage.prompt_tokens_details.cached_tokens;
  console.log(`prompt caching: first ${first.usage.prompt_tokens} prompt tokens, ${cached1} cached, ` +
    `TTFT ${first.ttft?.toFixed(1)} ms; second ${second.usage.prompt_tokens} prompt tokens, ` +
    `${cached2} cached, TTFT ${second.ttft?.toFixed(1)} ms`);
  assert.ok(cached2 > 0, "the second request with the same system prompt had cached_tokens 0");
  assert.ok(cached2 > cached1, `cached_tokens ${cached2} on the repeat is not above the first's ${cached1}`);
  assert.ok(cached2 >= second.usage.prompt_tokens / 2,
    `only ${cached2} of ${second.usage.prompt_tokens} prompt tokens cached; the system prompt is most of it`);
  assert.ok(cached2 < second.usage.prompt_tokens, "the differing user message cannot be cached");

  // The very same request again: everything but what must be recomputed comes from the cache.
  const third = await client.chat.completions.create({
    model, messages: [{ role: "system", content: psalm }, { role: "user", content: "What shall I fear?" }],
    max_tokens: 4, temperature: 0,
  });
  assert.ok(third.usage.prompt_tokens_details.cached_tokens >= cached2);
});

async function metricsText() {
  const response = await rawRequest("/metrics", { headers: authHeader() });
  assert.equal(response.status, 200);
  assert.match(response.headers["content-type"] ?? "", /^text\/plain/);
  return response.text;
}

// Polls /metrics until the gauge reads 0 (a finished or cancelled sequence is released).
async function waitForGaugeZero(name, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let value;
  while (Date.now() < deadline) {
    value = metricValue(await metricsText(), name);
    if (value === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${name} is ${value} ${timeoutMs} ms after the last request, expected 0`);
}

test("a client that aborts a stream after the first chunk does not break later requests", async () => {
  // More aborts than --max-sequences 4: a sequence leaked by each would starve the next request.
  for (let i = 0; i < 6; i++) {
    const abort = new AbortController();
    const stream = await client.chat.completions.create({
      model, messages: user(`Psalm ${i}`), max_tokens: 200, temperature: 0.7, seed: i, stream: true,
    }, { signal: abort.signal });
    let chunks = 0;
    try {
      for await (const chunk of stream) {
        assert.ok(chunk.choices);
        chunks++;
        abort.abort();
      }
    } catch (error) {
      assert.ok(error instanceof OpenAI.APIUserAbortError || error.name === "AbortError", String(error));
    }
    assert.ok(chunks >= 1);
  }
  const after = await client.chat.completions.create({
    model, ...greedyChat,
  }, { timeout: 30_000 });
  assert.equal(after.choices[0].finish_reason, "length");
  const streamed = checkChatChunks(await collect(await client.chat.completions.create({
    model, ...greedyChat, stream: true,
  })), { includeUsage: false });
  assert.equal(streamed.content, after.choices[0].message.content);
  await waitForGaugeZero("lockstep_active_sequences");
});

test("/metrics after the run: TTFT and inter-token histograms counted, cache hits counted", async () => {
  const text = await metricsText();
  for (const family of ["lockstep_time_to_first_token_seconds", "lockstep_inter_token_latency_seconds"]) {
    assert.match(text, new RegExp(`^# TYPE ${family} histogram$`, "m"), `no histogram ${family}`);
    const count = metricValue(text, `${family}_count`);
    assert.ok(count > 0, `${family}_count is ${count}`);
    assert.equal(metricValue(text, `${family}_bucket{le="+Inf"}`), count, `${family} +Inf bucket != count`);
    assert.ok(metricValue(text, `${family}_sum`) > 0, `${family}_sum`);
    // Cumulative buckets never decrease.
    const buckets = [...text.matchAll(new RegExp(`^${family}_bucket\\{le="[^"]+"\\} (\\S+)$`, "gm"))]
      .map((m) => Number(m[1]));
    assert.ok(buckets.length >= 2, `${family} has ${buckets.length} buckets`);
    buckets.forEach((v, i) => assert.ok(i === 0 || v >= buckets[i - 1], `${family} buckets decrease`));
  }
  const hitTokens = metricValue(text, "lockstep_prompt_cache_hit_tokens_total");
  assert.ok(hitTokens > 0, `lockstep_prompt_cache_hit_tokens_total is ${hitTokens}`);
  console.log(text.split("\n").filter((l) => /_count |_total/.test(l) && !l.startsWith("#")).join("\n"));
});

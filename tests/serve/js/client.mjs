// The openai client the tests use, pointed at the server run.sh started, plus plain-HTTP
// helpers for what the SDK hides (raw status codes, /metrics, /health).
//
// maxRetries is 0 everywhere: the SDK would otherwise retry 429, 5xx and dropped connections
// and hide exactly the failures the tests look for.
import http from "node:http";
import OpenAI from "openai";

export const serverUrl = () => {
  const url = process.env.LOCKSTEP_URL;
  if (!url) throw new Error("LOCKSTEP_URL is not set; run the tests through run.sh.");
  return url.replace(/\/$/, "");
};
export const apiKey = () => process.env.LOCKSTEP_API_KEY ?? "unused";

// A client whose fetch keeps the raw text of every event-stream response, so a test can check
// what the SDK does not: that the stream ended with "data: [DONE]". transcripts[i] is
// { text, complete } for the i-th streamed response, complete once the body has ended.
export function makeClient({ url = serverUrl(), key = apiKey(), timeoutMs = 60_000 } = {}) {
  const transcripts = [];
  const recordingFetch = async (input, init) => {
    const response = await fetch(input, init);
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || !response.body) return response;
    const transcript = { text: "", complete: false };
    transcripts.push(transcript);
    const decoder = new TextDecoder();
    const tap = new TransformStream({
      transform(chunk, controller) {
        transcript.text += decoder.decode(chunk, { stream: true });
        controller.enqueue(chunk);
      },
      flush() {
        transcript.text += decoder.decode();
        transcript.complete = true;
      },
    });
    return new Response(response.body.pipeThrough(tap), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  const client = new OpenAI({
    apiKey: key,
    baseURL: `${url}/v1`,
    maxRetries: 0,
    timeout: timeoutMs,
    fetch: recordingFetch,
  });
  return { client, transcripts };
}

// True when an SSE transcript's last event is "data: [DONE]".
export const endsWithDone = (text) => /(^|\n)data: ?\[DONE\]\s*$/.test(text);

// GET or POST with node:http: status, headers and body text, whatever the status. Used where
// fetch is unreliable (a server that answers 413 and closes while the body is still being sent).
export function rawRequest(path, { method = "GET", body, headers = {}, url = serverUrl() } = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}${path}`, { method, headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (part) => (text += part));
      const done = () => resolve({ status: response.statusCode, headers: response.headers, text });
      response.on("end", done);
      response.on("close", done);  // the server may close right after an early error answer
    });
    let answered = false;
    request.on("response", () => (answered = true));
    request.on("error", (error) => {
      if (!answered) reject(error);  // EPIPE/ECONNRESET after the answer is the server closing early
    });
    if (body !== undefined) {
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
      request.setHeader("Content-Length", bytes.length);
      request.end(bytes);
    } else {
      request.end();
    }
  });
}

export const authHeader = () => ({ Authorization: `Bearer ${apiKey()}` });

// The value of one Prometheus sample line `name{labels} value`, or undefined.
export function metricValue(exposition, name) {
  for (const line of exposition.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match && match[1] === name) return Number(match[3]);
  }
  return undefined;
}

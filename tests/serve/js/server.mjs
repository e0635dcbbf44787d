// Starts an extra `lockstep serve` for a test that needs its own flags (run.sh starts the
// shared one). Spawns LOCKSTEP_BINARY with --port 0 and resolves once the server prints
// "lockstep serve: listening on http://HOST:PORT"; rejects with the server's stderr when it
// exits first or stays silent past the timeout.
import { spawn } from "node:child_process";

const LISTENING = /^lockstep serve: listening on (http:\/\/\S+)$/;

export async function startServer({
  binary = process.env.LOCKSTEP_BINARY,
  args = [],
  timeoutMs = 60_000,
} = {}) {
  if (!binary) throw new Error("startServer needs LOCKSTEP_BINARY (run.sh exports it).");
  // Its own process group (detached), so a kill reaches anything it spawned; killed with the
  // test process if the test forgets stop().
  const child = spawn(binary, ["serve", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const killGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const killOnExit = () => killGroup("SIGKILL");
  process.on("exit", killOnExit);
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => {
    stderr = (stderr + text).slice(-8000);  // the tail is what explains a failure
  });
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => {
    process.off("exit", killOnExit);
    resolve([code, signal]);
  }));

  const url = await new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      killGroup("SIGKILL");
      reject(new Error(`${binary} serve printed no listening line within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => {
      buffered += text;
      for (const line of buffered.split("\n").slice(0, -1)) {
        const match = LISTENING.exec(line.trim());
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    });
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${binary}: ${error.message}`));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${binary} serve exited (${signal ?? code}) before listening; stderr:\n${stderr}`));
    });
  });
  child.stdout.resume();  // keep draining stdout so the server never blocks on a full pipe

  return {
    url,
    // SIGTERM, then the exit code (the contract: 0). SIGKILL after graceMs.
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      killGroup("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), graceMs);
      const [code, signal] = await exited;
      clearTimeout(timer);
      return signal ? signal : code;
    },
    stderr: () => stderr,
  };
}

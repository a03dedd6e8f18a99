// Starts the real hookd binary for the JavaScript SDK tests, and a receiver that
// verifies the signatures of what hookd delivers with the SDK's own Webhook class.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { ApiException, Svix, Webhook } from "svix";

const here = path.dirname(fileURLToPath(import.meta.url));
export const adminToken = "sdktest-admin-token-0123456789abcdef";

let built;

// binary returns $HOOKD_BIN, or builds cmd/hookd once into a temporary directory.
function binary() {
  if (process.env.HOOKD_BIN) return process.env.HOOKD_BIN;
  if (!built) {
    const dir = mkdtempSync(path.join(tmpdir(), "hookd-sdktest-bin-"));
    built = path.join(dir, "hookd");
    execFileSync("go", ["build", "-o", built, "./cmd/hookd"], { cwd: path.join(here, "..", ".."), stdio: "inherit" });
  }
  return built;
}

// startHookd runs `hookd serve` on a free loopback port with a fresh SQLite database
// and resolves once it prints its listening line. stop() ends it.
export async function startHookd() {
  const dir = mkdtempSync(path.join(tmpdir(), "hookd-sdktest-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HOOKD_")));
  const child = spawn(binary(), ["serve", "--addr", "127.0.0.1:0", "--db", path.join(dir, "hookd.db"),
    "--admin-token", adminToken, "--allow-private"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hookd printed no listening line within 30s:\n${output}`)), 30000);
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(/hookd: listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`hookd exited (${code}) before listening:\n${output}`));
    });
  });
  const svix = new Svix(adminToken, { serverUrl: url, retryScheduleInMs: [] });
  return {
    url,
    svix,
    output: () => output,
    async stop() {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// raw sends a request with the admin token, as a client without the SDK would.
export async function raw(url, method, p, body) {
  const res = await fetch(url + p, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

// startReceiver listens on a free loopback port. Each request is verified with the
// secret set by setSecret for its path and pushed to received; status is the status
// code it answers.
export async function startReceiver() {
  const received = [];
  const waiters = [];
  const r = {
    secrets: {},
    status: 200,
    received,
    setSecret(path, key) {
      r.secrets[path] = key;
    },
    // next resolves with the n-th request (counting from 1), waiting up to 30s.
    next(n) {
      if (received.length >= n) return Promise.resolve(received[n - 1]);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver got ${received.length} requests, waited for ${n}`)), 30000);
        waiters.push({ n, resolve: (v) => { clearTimeout(timer); resolve(v); } });
      });
    },
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      // verify throws unless a signature matches (it returns nothing in svix 2.x).
      let error = null;
      try {
        new Webhook(r.secrets[req.url]).verify(body, req.headers);
      } catch (e) {
        error = e;
      }
      received.push({ url: req.url, headers: req.headers, body, payload: JSON.parse(body), error });
      res.writeHead(r.status);
      res.end("ok");
      for (const w of waiters.splice(0)) {
        if (received.length >= w.n) w.resolve(received[w.n - 1]);
        else waiters.push(w);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${server.address().port}`;
  r.close = () => new Promise((resolve) => server.close(resolve));
  return r;
}

// until polls fn until it returns a truthy value, for up to 30s.
export async function until(what, fn) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within 30s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// status runs fn and returns the HTTP status of the ApiException it throws.
export async function status(fn) {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof ApiException, `not an ApiException: ${e}`);
    return e.code;
  }
  assert.fail("no error");
}

// startWithEndpoint starts hookd and a receiver, creates the application appIn with one
// endpoint at the receiver's /hook (endpointIn adds fields), and gives the receiver its
// secret so every request is verified.
export async function startWithEndpoint(appIn, endpointIn = {}) {
  const hookd = await startHookd();
  let rcv;
  try {
    rcv = await startReceiver();
    const app = await hookd.svix.application.create(appIn);
    const ep = await hookd.svix.endpoint.create(app.id, { url: rcv.url + "/hook", ...endpointIn });
    rcv.setSecret("/hook", (await hookd.svix.endpoint.getSecret(app.id, ep.id)).key);
    return { hookd, rcv, app, ep };
  } catch (err) {
    await stopAll(hookd, rcv);
    throw err;
  }
}

// stopAll closes the receiver and stops hookd, either of which may be missing.
export async function stopAll(hookd, rcv) {
  await rcv?.close();
  await hookd?.stop();
}

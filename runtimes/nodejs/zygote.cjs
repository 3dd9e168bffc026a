// lamina's Node.js zygote, JavaScript half (see src/sandbox/zygote.h for the whole protocol, and
// zygote_addon.cpp for the native half, which does every system call).
//
// Started by the daemon as `node --single-threaded /var/runtime/nodejs/zygote.cjs`: root, in a
// mount namespace with the environments' generic view, with the variables every function of this
// runtime starts with. It loads bootstrap.mjs (whose main() then waits), then serve() forks on
// request and returns only in a runtime process, already the sandbox user in its environment with
// the function's environment and cwd; that process then becomes what `node bootstrap.mjs` would
// have been, minus Node's start-up.
"use strict";

// What bootstrap.mjs imports, so that a forked runtime process finds them loaded.
require("node:fs");
require("node:http");
require("node:path");
require("node:url");
require("node:util");
const Module = require("node:module");
// Most functions' SDKs load it, and it costs ~10 ms; OpenSSL reseeds its generators after a fork.
const { randomFillSync } = require("node:crypto");

const addon = require(require("node:path").join(__dirname, "zygote_addon.node"));
const control = Number(process.env.LAMINA_ZYGOTE_FD);
delete process.env.LAMINA_ZYGOTE_FD;

// V8 compiles a function when it first runs, and a fork inherits what was compiled: run what every
// runtime process runs at once — an HTTP exchange with a keep-alive agent like the runtime
// client's (GET with a JSON answer, then a POST), over loopback in the zygote's own namespace.
function warmUp() {
  const http = require("node:http");
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      req.on("data", () => {});
      req.on("end", () => {
        res.setHeader("Content-Type", "application/json");
        res.setHeader("Lambda-Runtime-Aws-Request-Id", "warm-up");
        res.end(JSON.stringify({ warm: true }));
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const exchange = (method, body) =>
        new Promise((done) => {
          const req = http.request(
            { hostname: "127.0.0.1", port: server.address().port, path: "/warm-up", method, agent },
            (res) => {
              const chunks = [];
              res.on("data", (c) => chunks.push(c));
              res.on("end", () => done(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
            },
          );
          req.on("error", () => done(null));
          req.end(body);
        });
      exchange("GET")
        .then(() => exchange("POST", JSON.stringify({ ok: 1 })))
        .then(() => {
          agent.destroy();
          server.close(() => resolve());
        });
    });
    server.on("error", () => resolve());
  });
}

// The runtime client itself, loaded (and the ESM loader started, ~15 ms) before any fork; its
// main() runs in each runtime process. libuv restarts its thread pool after a fork by itself.
const url = require("node:url");
globalThis[Symbol.for("lamina.zygote")] = true;
import(url.pathToFileURL(require("node:path").join(__dirname, "bootstrap.mjs")).href).then(async (bootstrap) => {
  delete globalThis[Symbol.for("lamina.zygote")];
  await warmUp();
  // A full collection first: what the zygote leaves behind is compact and old, so a fork's own
  // allocations and scavenges touch fresh pages rather than copying the zygote's.
  const v8 = require("node:v8");
  v8.setFlagsFromString("--expose-gc");
  require("node:vm").runInNewContext("gc")();
  v8.setFlagsFromString("--no-expose-gc");
  addon.serve(control);
  // A runtime process, set up, in its environment but without a function yet: start libuv's
  // thread pool (the handler's import reads through it) before taking the spec.
  await require("node:fs").promises.stat("/");
  const argv = addon.takeSpec();

  // Only a runtime process gets here. What a fresh start would have set up differently:
  Object.defineProperty(process, "pid", { value: addon.getpid(), writable: false, enumerable: true, configurable: true });
  process.argv = [process.argv[0], ...argv];
  // Node's own exit would tear down V8's platform, whose worker threads a fork does not have: once
  // every 'exit' listener has run (process.exit(), a drained loop, an uncaught exception all emit
  // it), leave with _exit and the code they settled on.
  const emit = process.emit;
  process.emit = function (event, ...args) {
    const result = emit.call(this, event, ...args);
    if (event === "exit") addon.exit(process.exitCode ?? args[0] ?? 0);
    return result;
  };
  Module._initPaths(); // NODE_PATH is the function's now
  // V8 seeded Math.random once, in the zygote: every fork would repeat its sequence. The same
  // distribution (53 random bits per double), from OpenSSL.
  const pool = new Uint32Array(128);
  let next = pool.length;
  const random = function random() {
    if (next >= pool.length) {
      randomFillSync(pool);
      next = 0;
    }
    const high = pool[next++] >>> 5;
    const low = pool[next++] >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };
  Object.defineProperty(Math, "random", { value: random, writable: true, enumerable: false, configurable: true });

  // As the entry module's top-level `await main()` would: a rejection is an uncaught exception,
  // and an event loop that runs dry while main() is still pending exits with code 13.
  let settled = false;
  let drained = false;
  process.on("beforeExit", () => {
    drained = true;
  });
  process.on("exit", (code) => {
    if (!settled && drained && code === 0) process.exitCode = 13;
  });
  bootstrap.main().then(
    () => {
      settled = true;
    },
    (error) => {
      settled = true;
      process.nextTick(() => {
        throw error;
      });
    },
  );
});

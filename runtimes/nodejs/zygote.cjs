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

// The runtime client itself, loaded (and the ESM loader started, ~15 ms) before any fork; its
// main() runs in each runtime process. libuv restarts its thread pool after a fork by itself.
const url = require("node:url");
globalThis[Symbol.for("lamina.zygote")] = true;
import(url.pathToFileURL(require("node:path").join(__dirname, "bootstrap.mjs")).href).then((bootstrap) => {
  delete globalThis[Symbol.for("lamina.zygote")];
  const argv = addon.serve(control);

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

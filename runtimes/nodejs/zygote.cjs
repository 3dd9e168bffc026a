// lamina's Node.js zygote, JavaScript half (see src/sandbox/zygote.h for the whole protocol, and
// zygote_addon.cpp for the native half, which does every system call).
//
// Started by the daemon as `node --single-threaded /var/runtime/nodejs/zygote.cjs`: root, in a
// mount namespace with the environments' generic view, with the variables every function of this
// runtime starts with. It loads what bootstrap.mjs imports, then serve() forks on request and
// returns only in a runtime process, already the sandbox user in its environment with the
// function's environment and cwd; that process then becomes what `node bootstrap.mjs` would have
// been, minus Node's start-up. CommonJS and synchronous on purpose: nothing here may start libuv's
// thread pool, which a fork would not carry.
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

// The ESM loader starts on the first import() (~15 ms): start it here, with a module that needs
// no file (and so no thread pool), and fork only after.
import("data:text/javascript,").then(() => {
  const argv = addon.serve(control);

  // Only a runtime process gets here. What a fresh start would have set up differently:
  Object.defineProperty(process, "pid", { value: addon.getpid(), writable: false, enumerable: true, configurable: true });
  process.argv = [process.argv[0], ...argv];
  Module._initPaths(); // NODE_PATH is the function's now
  // V8 seeded Math.random once, in the zygote: every fork would repeat its sequence. The same
  // distribution (53 random bits per double), from the kernel's generator.
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
  return import(require("node:url").pathToFileURL(argv[0]).href);
});

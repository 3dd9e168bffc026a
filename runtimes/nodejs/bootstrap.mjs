// lamina's Node.js runtime client for nodejs18.x / nodejs20.x / nodejs22.x.
//
// Started by the daemon as `node /var/runtime/nodejs/bootstrap.mjs` with cwd = LAMBDA_TASK_ROOT.
// Loads the handler named by _HANDLER and serves the Runtime API (2018-06-01) at
// http://$AWS_LAMBDA_RUNTIME_API, reproducing what a function can observe of AWS's own runtime
// client (aws-lambda-nodejs-runtime-interface-client, "the RIC", at its July 2025 state): handler
// resolution and its Runtime.* init errors, async and callback handlers with
// callbackWaitsForEmptyEventLoop, the context object, error documents, the console's log lines
// (text and JSON), uncaught-exception handling and the process's exit codes.
//
// Node's standard library only; one file, embedded in the daemon. Single-threaded like all JS: the
// only state shared between invocations is the module-level state below, which the event loop
// serialises.
//
// Differences from the RIC, all deliberate (see docs/compatibility.md):
// - Response streaming is not supported: awslambda.streamifyResponse fails the Init with a clear
//   error instead of registering a streaming handler.
// - The RIC posts results with a blocking native call; we post with Node's http client, so the
//   event loop keeps running while a result is in flight (a timer due in that millisecond may fire).
// - Invocation errors also carry Lambda-Runtime-Function-Error-Type (the RIC sends it only on
//   /init/error); callers never see it.
// - A failed /next ends the process (exit 129 after "Unexpected Top Level Error") instead of the
//   RIC's endless re-reporting loop.
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import util from "node:util";

const API_PREFIX = "/2018-06-01/runtime";
const ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type";
const XRAY_CAUSE_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause";
// lamina's Runtime API accepts 64 KB of request headers; a larger X-Ray cause is dropped rather
// than getting the whole error post rejected.
const XRAY_CAUSE_MAX = 32 * 1024;

// Where loggers and tracers look for the current ids (same global symbols as the RIC).
const REQUEST_ID = Symbol.for("aws.lambda.runtime.requestId");
const TENANT_ID = Symbol.for("aws.lambda.runtime.tenantId");
const HANDLER_STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");

// CommonJS loader for the function's code. Anchored at <runtime root>/index.mjs (the file AWS's
// runtime runs) so that "Cannot find module" messages end in the same "Require stack:" as on AWS.
// Only absolute paths and require.resolve with explicit `paths` go through it, so the anchor
// does not change what resolves.
const runtimeRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(path.join(runtimeRoot, "index.mjs"));

// ---- Errors, shaped as the RIC shapes them ----------------------------------------------------

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes",
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
// error.name is "Runtime.X" while the class (constructor.name, which the JSON log format shows)
// stays "X".
const runtimeErrors = [
  ImportModuleError, HandlerNotFound, MalformedHandlerName, UserCodeSyntaxError, NodeJsExit, UnhandledPromiseRejection,
];
for (const cls of runtimeErrors) cls.prototype.name = `Runtime.${cls.name}`;

// An object that quacks like an Error: non-empty string name, message and stack.
function isErrorLike(obj) {
  return Boolean(obj && obj.name && obj.message && obj.stack) && typeof obj.name === "string" &&
    typeof obj.message === "string" && typeof obj.stack === "string";
}

const intoError = (err) => (err instanceof Error ? err : new Error(err));

// The document posted to /error and /init/error: {errorType, errorMessage, trace}. Errors give
// their name, message and stack lines; anything else its typeof and toString() ("string",
// "handled" for a bare context.fail()). DEL bytes are escaped because the RIC sends them in headers.
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replaceAll("\x7F", "%7F"),
        errorMessage: error.message?.replaceAll("\x7F", "%7F"),
        trace: error.stack.replaceAll("\x7F", "%7F").split("\n"),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: "handled",
      errorMessage:
        "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
    };
  }
}

// The "\t{...}" that follows "Invoke Error" / "Uncaught Exception" in text logs: every Error in the
// value is written with errorType, errorMessage, code, its own enumerable properties and its stack
// as lines.
function toFormatted(error) {
  const expand = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
    if (typeof value.stack === "string") out.stack = value.stack.split("\n");
    return out;
  };
  try {
    return "\t" + JSON.stringify(error, expand);
  } catch {
    return "\t" + JSON.stringify(toRapidResponse(error));
  }
}

// The X-Ray cause the RIC attaches to invocation errors: the stack parsed into {path, line, label}
// frames, with the RIC's parsing quirks kept (an ESM "file:///x.mjs:3:9" frame gives path "file").
// "" when the error cannot be described.
function xrayCause(error) {
  try {
    const stack = [];
    if (error.stack) {
      for (const frame of error.stack.replace(/\x7F/g, "%7F").split("\n").slice(1)) {
        let line = frame.trim().replace(/\(|\)/g, "");
        line = line.substring(line.indexOf(" ") + 1);
        const cut = line.lastIndexOf(" ");
        const label = cut >= 0 ? line.slice(0, cut) : null;
        const where = (label ? line.slice(cut + 1) : line).split(":");
        stack.push({ path: where[0], line: parseInt(where[1]), label: label || "anonymous" });
      }
    }
    const type = error.name?.replace(/\x7F/g, "%7F");
    const message = error.message?.replace(/\x7F/g, "%7F");
    return JSON.stringify({
      working_directory: process.cwd(),
      exceptions: [{ type, message, stack }],
      paths: [...new Set(stack.map((entry) => entry.path))],
    });
  } catch {
    return "";
  }
}

// ---- Console: one stdout line per call ---------------------------------------------------------

const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
let jsonFormat = false; // AWS_LAMBDA_LOG_FORMAT, read by patchConsole (a zygote loads this module first)

// Text: "<ISO time>\t<request id>\t<LEVEL>\t<util.format of the arguments>". The request id is
// "undefined" until the first invocation and stays the last one's between invocations.
function textLine(level, message, params) {
  return `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${util.format(message, ...params)}`;
}

// JSON (AWS_LAMBDA_LOG_FORMAT=JSON): {timestamp, level, requestId, [tenantId], message, ...}. A
// single argument is kept structured (Errors expanded, by their class name); several are formatted
// into one message and the first Error among them is described beside it.
function jsonLine(level, message, params) {
  const out = { timestamp: new Date().toISOString(), level, requestId: globalThis[REQUEST_ID] };
  const tenantId = globalThis[TENANT_ID];
  if (tenantId !== undefined && tenantId !== null) out.tenantId = tenantId;
  const errorType = (err) => err?.constructor?.name ?? "UnknownError";
  if (params.length === 0) {
    out.message = message;
    const expand = (_key, value) => {
      if (!(value instanceof Error)) return value;
      const stackTrace = typeof value.stack === "string" ? value.stack.split("\n") : value.stack;
      return Object.assign({ errorType: errorType(value), errorMessage: value.message, stackTrace }, value);
    };
    try {
      return JSON.stringify(out, expand);
    } catch {
      out.message = util.format(out.message);
      return JSON.stringify(out);
    }
  }
  out.message = util.format(message, ...params);
  const err = [message, ...params].find((p) => p instanceof Error);
  if (err) {
    out.errorType = errorType(err);
    out.errorMessage = err.message;
    out.stackTrace = typeof err.stack === "string" ? err.stack.split("\n") : [];
  }
  return JSON.stringify(out);
}

// Replaces console.trace/debug/info/log/warn/error (and adds console.fatal) with writers of whole
// lines; newlines inside a message become '\r' so that one call stays one log event. Levels below
// AWS_LAMBDA_LOG_LEVEL (default TRACE: everything) become no-ops; FATAL is always written.
function patchConsole() {
  jsonFormat = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === "JSON";
  const format = jsonFormat ? jsonLine : textLine;
  const write = (level) => (message, ...params) => {
    process.stdout.write(format(level, message, params).replace(/\n/g, "\r") + "\n");
  };
  const min = Math.max(0, LEVELS.indexOf(process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()));
  const at = (level) => (LEVELS.indexOf(level) >= min ? write(level) : () => {});
  console.trace = at("TRACE");
  console.debug = at("DEBUG");
  console.info = at("INFO");
  console.log = console.info;
  console.warn = at("WARN");
  console.error = at("ERROR");
  console.fatal = write("FATAL");
}

// Logs an error the way the RIC does, through whatever console.error is at the time of the call.
function logError(what, error) {
  if (jsonFormat) console.error(intoError(error));
  else console.error(what, toFormatted(intoError(error)));
}

// ---- The Runtime API ---------------------------------------------------------------------------

// Makes a header value Node will send: the UTF-8 bytes of anything outside printable ASCII are
// percent-encoded.
const percentByte = (b) => "%" + b.toString(16).toUpperCase().padStart(2, "0");
const headerSafe = (value) =>
  String(value).replace(/[^\t\x20-\x7E]/gu, (c) => [...Buffer.from(c, "utf8")].map(percentByte).join(""));

// Serialises a result as the RIC does: undefined → null; a value JSON cannot write is
// "Unable to stringify response body"; one JSON.stringify skips (a function, a symbol) is the
// TypeError the RIC's native client raises for it.
function serializeResponse(result) {
  let body;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch {
    throw new Error("Unable to stringify response body");
  }
  if (typeof body !== "string") throw new TypeError("Wrong arguments");
  return body;
}

// HTTP client for the Runtime API over one keep-alive connection (maxSockets 1; the agent unrefs it
// while idle, so an open connection never keeps the event loop from running dry). No timeouts: by
// contract /next blocks until the next event, and the daemon answers posts promptly.
class RapidClient {
  constructor(hostPort) {
    const [hostname, port] = hostPort.split(":");
    this.hostname = hostname;
    this.port = parseInt(port, 10);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.nextPending = false;
  }

  // One request → {status, headers, body: Buffer}. A request that fails on a reused connection
  // (the peer closed it while idle) is retried once on a new one. While a /next is outstanding the
  // keep-alive connection is busy until the next event, so a post then (an error thrown by a
  // timer between invocations) goes over a connection of its own.
  request(method, route, body, headers = {}, agent = this.nextPending ? false : this.agent, retried = false) {
    return new Promise((resolve, reject) => {
      const { hostname, port } = this;
      const options = { hostname, port, path: API_PREFIX + route, method, headers, agent };
      const req = http.request(options, (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("close", () => res.complete || reject(new Error("connection closed during the response")));
      });
      req.on("error", (err) => {
        if (req.reusedSocket && !retried) resolve(this.request(method, route, body, headers, agent, true));
        else reject(err);
      });
      req.end(body);
    });
  }

  // POST of a JSON body. Resolves once answered, whatever the status: like the RIC we go on to
  // /next after a rejected post (the daemon answers an oversized result with 413 and completes the
  // invocation itself). Rejects only when the Runtime API cannot be reached.
  async post(route, body, headers) {
    const data = Buffer.from(body, "utf8");
    const all = { "Content-Type": "application/json", "Content-Length": data.length };
    for (const [name, value] of Object.entries(headers)) {
      if (typeof value === "string" && value !== "") all[name] = headerSafe(value);
    }
    await this.request("POST", route, data, all);
  }

  // → {bodyJson, headers (lower-case names)}; throws when the Runtime API fails.
  async nextInvocation() {
    const pending = this.request("GET", "/invocation/next");
    this.nextPending = true;
    let res;
    try {
      res = await pending;
    } finally {
      this.nextPending = false;
    }
    // Go on from a fresh turn of the event loop, as after the RIC's native call: the handler's
    // stack then ends at Runtime.handleOnceNonStreaming, not in Node's stream internals.
    await new Promise((resolve) => setImmediate(resolve));
    if (res.status !== 200) {
      throw new Error(`Failed to get next invocation, http status ${res.status}: ${res.body.toString("utf8")}`);
    }
    // Node reads header bytes as latin-1; the RIC's native client reads them as UTF-8 (a client
    // context may hold any text).
    const headers = {};
    for (const [name, value] of Object.entries(res.headers)) {
      headers[name] = typeof value === "string" ? Buffer.from(value, "latin1").toString("utf8") : value;
    }
    return { bodyJson: res.body.toString("utf8"), headers };
  }

  // Serialises synchronously (throwing as serializeResponse does), then posts and calls `next`
  // once the post is over, however it ended.
  postInvocationResponse(result, id, next) {
    const body = serializeResponse(result);
    this.post(`/invocation/${encodeURIComponent(id)}/response`, body, {}).then(next, next);
  }

  postInvocationError(error, id, next) {
    const doc = toRapidResponse(error);
    // Non-ASCII only occurs inside JSON strings, where \uXXXX (per UTF-16 unit) says the same.
    const escape = (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
    const cause = xrayCause(error).replace(/[^\x20-\x7E]/g, escape);
    const headers = {
      [ERROR_TYPE_HEADER]: doc.errorType,
      [XRAY_CAUSE_HEADER]: cause.length <= XRAY_CAUSE_MAX ? cause : "",
    };
    this.post(`/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(doc), headers).then(next, next);
  }

  postInitError(error, next) {
    const doc = toRapidResponse(error);
    this.post("/init/error", JSON.stringify(doc), { [ERROR_TYPE_HEADER]: doc.errorType }).then(next, next);
  }
}

// ---- Loading the handler ("dir/file.export.nested") --------------------------------------------

// Whether `folder`'s nearest package.json says "type": "module". The search stops at the first
// package.json, at a node_modules folder, or at the root.
function hasTypeModule(folder) {
  if (folder.endsWith("/node_modules")) return false;
  const pj = path.join(folder, "package.json");
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj, "utf8"));
      if (pkg) return pkg.type === "module";
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  return folder === "/" ? false : hasTypeModule(path.resolve(folder, ".."));
}

const requireIfExists = (file) => (fs.existsSync(file) ? require(file) : undefined);
const importIfExists = async (file) => (fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined);

// The RIC's resolution order for <appRoot>/<moduleRoot>/<name>: the path as named (a file or a
// folder, via require), <name>.js via require unless its package.json says "type": "module",
// then <name>.js via import() if it does, <name>.mjs via import(), <name>.cjs via require, and
// last Node's own resolution of `name` from appRoot and moduleRoot (node_modules, NODE_PATH).
async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const asNamed = requireIfExists(base);
  if (asNamed) return asNamed;
  const esm = fs.existsSync(base + ".js") && hasTypeModule(path.dirname(base + ".js"));
  if (!esm) {
    const cjs = requireIfExists(base + ".js");
    if (cjs) return cjs;
  }
  const loaded = (esm && (await importIfExists(base + ".js"))) || (await importIfExists(base + ".mjs")) ||
    requireIfExists(base + ".cjs");
  if (loaded) return loaded;
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));
}

const streamingUnsupported = () =>
  new Error("Response streaming (awslambda.streamifyResponse) is not supported by lamina");

// Loads the module and maps its failures to Runtime.* errors as the RIC does: any SyntaxError
// (CommonJS or ESM) → UserCodeSyntaxError; require's MODULE_NOT_FOUND → ImportModuleError; all
// else (an ESM import's ERR_MODULE_NOT_FOUND included) is reported as itself.
async function loadUserApp(appRoot, moduleRoot, name) {
  const flag = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (flag !== "1" && flag !== "true") {
    globalThis.awslambda = {
      streamifyResponse() {
        throw streamingUnsupported();
      },
      HttpResponseStream: class HttpResponseStream {
        static from() {
          throw streamingUnsupported();
        }
      },
    };
  }
  try {
    return await loadModule(appRoot, moduleRoot, name);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    // Unguarded like the RIC's: a module that throws null surfaces as this access's TypeError.
    if (e.code === "MODULE_NOT_FOUND") throw new ImportModuleError(e);
    throw e;
  }
}

// Resolves _HANDLER to a function. Throws MalformedHandlerName (".." anywhere, or no "." in the last
// path segment), the errors of loadUserApp, or HandlerNotFound.
async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes("..")) {
    throw new MalformedHandlerName(
      `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName("Bad handler");
  const app = await loadUserApp(appRoot, moduleRoot, match[1]);
  const handler = match[2].split(".").reduce((obj, key) => obj && obj[key], app);
  if (!handler) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof handler !== "function") throw new HandlerNotFound(`${fullHandler} is not a function`);
  // A handler marked for streaming by hand (libraries may set the RIC's symbol themselves).
  if (handler[HANDLER_STREAMING]) throw streamingUnsupported();
  return handler;
}

function isAsyncFunction(fn) {
  try {
    return fn.constructor?.name === "AsyncFunction";
  } catch {
    return false;
  }
}

// ---- One invocation: callback, succeed/fail/done and the empty event loop ----------------------

// What to do when the event loop runs dry ('beforeExit'): answer a callback that waits for the
// empty loop, or give the default answer for a handler that has not answered; a no-op otherwise.
// With callbackWaitsForEmptyEventLoop = false the answer goes out at once and timers the handler
// left pending stay pending: the daemon freezes an idle environment's cgroup (as AWS freezes the
// sandbox), so they run when the next invocation thaws it.
const noop = () => {};
let onEmptyLoop = noop;

// Builds the handler's `callback` and the part of `context` with callbackWaitsForEmptyEventLoop and
// succeed/fail/done, for invocation `id`. `scheduleNext` starts the next /next once an answer is
// posted. Returns [callback, context, markCompleted]; markCompleted records that the runtime
// answered for the handler, so that a late answer is refused with the RIC's message.
function buildCallbackContext(client, id, scheduleNext) {
  let waitForEmptyEventLoop = true;
  let completed = false;

  const postError = (err) => {
    logError("Invoke Error", err);
    client.postInvocationError(err, id, scheduleNext);
  };
  // Throws synchronously when `result` cannot be serialised (see serializeResponse).
  const complete = (result) => {
    if (completed) {
      console.error("Invocation has already been reported as done. Cannot call complete more than once per invocation.");
      return;
    }
    completed = true;
    client.postInvocationResponse(result, id, scheduleNext);
  };

  // callback(err, result): an error is posted at once; a result at once only when the handler set
  // callbackWaitsForEmptyEventLoop = false, else when the loop is empty (it is serialised then,
  // so later changes to the object are sent too).
  const callback = (err, result) => {
    onEmptyLoop = noop;
    if (err !== undefined && err !== null) postError(err);
    else if (!waitForEmptyEventLoop) complete(result);
    else onEmptyLoop = () => setImmediate(() => complete(result));
  };
  const done = (err, result) => {
    onEmptyLoop = noop;
    if (err !== undefined && err !== null) postError(err);
    else complete(result);
  };

  // Only the first of callback/succeed/fail/done counts. A call that throws (a result that cannot be
  // serialised) does not count, so that the error it raised can still be reported by the next one.
  let finished = false;
  const once = (fn) =>
    function (...args) {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((err) => (err === undefined || err === null ? done("handled") : done(err, null))),
    done: once(done),
  };
  return [once(callback), context, () => (completed = true)];
}

// Parses a JSON header for the context; undefined when absent.
function parseJsonHeader(value, name) {
  if (value === undefined || value === "") return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

// Completes `context` with the environment's and the invocation's data (the RIC's property order,
// which console.log(context) shows) and forwards the trace header to _X_AMZN_TRACE_ID. Throws when
// the client context or Cognito identity header is not JSON.
function attachInvokeData(context, headers) {
  const trace = headers["lambda-runtime-trace-id"];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  const env = process.env;
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  return Object.assign(
    context,
    {
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, // a string, as on AWS
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    {
      clientContext: parseJsonHeader(headers["lambda-runtime-client-context"], "ClientContext"),
      identity: parseJsonHeader(headers["lambda-runtime-cognito-identity"], "CognitoIdentity"),
      invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
      awsRequestId: headers["lambda-runtime-aws-request-id"],
      tenantId: headers["lambda-runtime-aws-tenant-id"],
      // Not clamped at 0, as in the RIC.
      getRemainingTimeInMillis: function () {
        return deadline - Date.now();
      },
    },
  );
}

const isPromise = (obj) => Boolean(obj && obj.then && typeof obj.then === "function");

// The invocation loop. Named like the RIC's class, and the handler is called as `this.handler(...)`,
// so that a user's stack trace reads "at Runtime.handler (/var/task/index.js:...)" as on AWS.
class Runtime {
  // `errorCallbacks` is shared with the process's uncaughtException/unhandledRejection listeners;
  // each invocation points it at itself.
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.isAsync = isAsyncFunction(handler);
    this.errorCallbacks = errorCallbacks;
  }

  // Starts the next iteration on the next turn of the event loop. A failure outside the handler
  // (the Runtime API broke) is logged and ends the process through the uncaught-exception path.
  scheduleIteration() {
    setImmediate(() => {
      this.handleOnceNonStreaming().catch((err) => {
        console.log(`Unexpected Top Level Error: ${err.toString()}`);
        this.errorCallbacks.uncaughtException(err);
      });
    });
  }

  // Waits for one event and runs the handler on it. The answer — callback, succeed/fail/done, the
  // returned promise settling, or the empty event loop — posts the result and schedules the next
  // iteration; nothing here waits for it.
  async handleOnceNonStreaming() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const id = headers["lambda-runtime-aws-request-id"];
    if (!id) throw new Error("invocation id is missing or invalid");
    globalThis[REQUEST_ID] = id;
    globalThis[TENANT_ID] = headers["lambda-runtime-aws-tenant-id"];

    const [callback, context, markCompleted] = buildCallbackContext(this.client, id, () => this.scheduleIteration());
    try {
      this.setErrorCallbacks(id);
      this.setDefaultExitListener(id, markCompleted);
      const result = this.handler(JSON.parse(bodyJson), attachInvokeData(context, headers), callback);
      if (isPromise(result)) result.then(context.succeed, context.fail).catch(context.fail);
    } catch (err) {
      callback(err);
    }
  }

  // Uncaught errors from now on fail invocation `id` and end the process: 129 for an exception,
  // 128 for an unhandled rejection.
  setErrorCallbacks(id) {
    const client = this.client;
    this.errorCallbacks.uncaughtException = (error) => client.postInvocationError(error, id, () => process.exit(129));
    this.errorCallbacks.unhandledRejection = (error) => client.postInvocationError(error, id, () => process.exit(128));
  }

  // If the loop runs dry before the handler answered: an async handler's promise can no longer
  // settle → Runtime.NodeJsExit; any other handler → a null result.
  setDefaultExitListener(id, markCompleted) {
    onEmptyLoop = () => {
      markCompleted();
      const next = () => this.scheduleIteration();
      if (this.isAsync) {
        const error = new NodeJsExit();
        logError("Invoke Error", error);
        this.client.postInvocationError(error, id, next);
      } else {
        this.client.postInvocationResponse(null, id, next);
      }
    };
  }
}

// ---- Start-up ----------------------------------------------------------------------------------

// The RIC's warning for (event, context, callback) handlers, logged once at Init.
function warnIfCallbackHandler(handler) {
  if (process.env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING !== undefined) return;
  if (handler.length !== 3 || isAsyncFunction(handler)) return;
  console.warn(
    "AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will need to update this function to use an async handler to use Node.js 24 or later. For more information and to provide feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.",
  );
}

async function main() {
  patchConsole();
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) {
    process.stderr.write("lamina nodejs runtime: AWS_LAMBDA_RUNTIME_API is not set\n");
    process.exit(1);
  }
  const client = new RapidClient(api);

  // Until the first invocation, uncaught errors are Init errors.
  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on("uncaughtException", (error) => {
    logError("Uncaught Exception", error);
    errorCallbacks.uncaughtException(error);
  });
  process.on("unhandledRejection", (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError("Unhandled Promise Rejection", error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on("beforeExit", () => onEmptyLoop());

  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER ?? "");
  } catch (error) {
    // The RIC lets this reject its entry module's top-level await, which Node reports as an
    // uncaught exception.
    logError("Uncaught Exception", error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  warnIfCallbackHandler(handler);
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

// Top-level await, as the RIC's entry module: a handler module whose own top-level await never
// settles ends the process with Node's exit code 13, as on AWS. lamina's zygote (zygote.cjs) loads
// this module before any function exists and runs main() in each runtime process it forks.
if (!globalThis[Symbol.for("lamina.zygote")]) await main();
export { main };

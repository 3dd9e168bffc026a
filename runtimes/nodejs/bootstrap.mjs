// lamina's Node.js runtime client (nodejs18.x / nodejs20.x / nodejs22.x): loads the function's
// handler and serves the Lambda Runtime API (2018-06-01) the way AWS's own Node.js runtime
// interface client (npm's aws-lambda-ric, which AWS's managed runtimes run) does — handler
// resolution and its init errors, async and callback handlers with callbackWaitsForEmptyEventLoop,
// the context object, error documents, and console lines. Node's standard library only.
//
// Started by the daemon as `node /var/runtime/nodejs/bootstrap.mjs` with cwd = LAMBDA_TASK_ROOT.
// Differences from aws-lambda-ric: no response streaming (awslambda.streamifyResponse fails the
// invocation with a clear error), no JSON log format, no telemetry log fd; see
// docs/compatibility.md.
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import util from "node:util";

const require = createRequire(import.meta.url);
const [apiHost, apiPort] = (process.env.AWS_LAMBDA_RUNTIME_API || "127.0.0.1:9001").split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const API = "/2018-06-01/runtime";

// ---- errors, shaped as aws-lambda-ric shapes them ------------------------------------------

class RuntimeError extends Error {}
const errorClass = (name) => {
  const cls = class extends RuntimeError {};
  cls.prototype.name = `Runtime.${name}`;
  return cls;
};
const ImportModuleError = errorClass("ImportModuleError");
const HandlerNotFound = errorClass("HandlerNotFound");
const MalformedHandlerName = errorClass("MalformedHandlerName");
const UserCodeSyntaxError = errorClass("UserCodeSyntaxError");
const UnhandledPromiseRejection = errorClass("UnhandledPromiseRejection");

const looksLikeError = (e) =>
  e && typeof e.name === "string" && typeof e.message === "string" && typeof e.stack === "string";

// The document posted to /error and /init/error.
function errorDocument(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: error.name?.replace(/\x7F/g, "%7F"),
        errorMessage: error.message?.replace(/\x7F/g, "%7F"),
        trace: error.stack.replace(/\x7F/g, "%7F").split("\n"),
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

const intoError = (e) => (e instanceof Error ? e : new Error(e));

// The "\t{...}" suffix of an "Invoke Error" log line: the error's enumerable properties too.
function formatted(error) {
  const expand = (_k, v) => {
    if (!(v instanceof Error)) return v;
    const out = Object.assign({ errorType: v.name, errorMessage: v.message, code: v.code }, v);
    if (typeof v.stack === "string") out.stack = v.stack.split("\n");
    return out;
  };
  try {
    return "\t" + JSON.stringify(error, expand);
  } catch {
    return "\t" + JSON.stringify(errorDocument(error));
  }
}

// ---- console: "<ISO time>\t<request id>\t<LEVEL>\t<message>" with inner newlines as \r -------

let currentRequestId; // printed as "undefined" outside an invocation, as on AWS
function patchConsole() {
  const order = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
  const min = Math.max(0, order.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "TRACE").toUpperCase()));
  const write = (level) => (message, ...params) => {
    const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(message, ...params)}`;
    process.stdout.write(line.replace(/\n/g, "\r") + "\n");
  };
  const nop = () => {};
  const at = (level) => (order.indexOf(level) >= min ? write(level) : nop);
  console.trace = at("TRACE");
  console.debug = at("DEBUG");
  console.info = at("INFO");
  console.log = console.info;
  console.warn = at("WARN");
  console.error = at("ERROR");
  console.fatal = at("FATAL");
}
const logError = (what, error) => console.error(what, formatted(intoError(error)));

// ---- the Runtime API ------------------------------------------------------------------------

function request(method, route, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body, "utf8");
    const req = http.request(
      {
        host: apiHost,
        port: Number(apiPort),
        path: API + route,
        method,
        agent,
        headers: payload ? { "Content-Type": "application/json", "Content-Length": payload.length, ...headers } : headers,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

// Fatal: the Runtime API went away (the environment is being torn down).
const lost = (err) => {
  process.stderr.write(`lamina nodejs runtime: Runtime API unreachable: ${err}\n`);
  process.exit(1);
};

function serialize(result) {
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch {
    throw new Error("Unable to stringify response body");
  }
}

const postResponse = (id, body) => request("POST", `/invocation/${encodeURIComponent(id)}/response`, body);
function postError(id, error) {
  const doc = errorDocument(error);
  return request("POST", `/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(doc), {
    "Lambda-Runtime-Function-Error-Type": String(doc.errorType),
  });
}
function postInitError(error) {
  const doc = errorDocument(error);
  return request("POST", "/init/error", JSON.stringify(doc), {
    "Lambda-Runtime-Function-Error-Type": String(doc.errorType),
  });
}

// ---- loading the handler ("dir/file.export.nested") -----------------------------------------

function hasTypeModule(folder) {
  if (folder.endsWith("/node_modules")) return false;
  const pj = path.join(folder, "package.json");
  if (fs.existsSync(pj)) {
    try {
      return JSON.parse(fs.readFileSync(pj, "utf8"))?.type === "module";
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  return folder === "/" ? false : hasTypeModule(path.resolve(folder, ".."));
}

const tryRequire = (file) => (fs.existsSync(file) ? require(file) : undefined);
const tryImport = async (file) => (fs.existsSync(file) ? await import(pathToFileURL(file).href) : undefined);

// The resolution order of aws-lambda-ric: file as named, .js (CommonJS unless a package.json says
// "type": "module"), .mjs, .cjs, then Node's own resolution from the task root.
async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const plain = tryRequire(base);
  if (plain) return plain;
  const esm = fs.existsSync(base + ".js") && hasTypeModule(path.dirname(base + ".js"));
  if (!esm) {
    const cjs = tryRequire(base + ".js");
    if (cjs) return cjs;
  }
  const loaded = (esm && (await tryImport(base + ".js"))) || (await tryImport(base + ".mjs")) || tryRequire(base + ".cjs");
  if (loaded) return loaded;
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));
}

async function loadHandler(appRoot, handlerString) {
  if (handlerString.includes(".."))
    throw new MalformedHandlerName(
      `'${handlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  const base = path.basename(handlerString);
  const moduleRoot = handlerString.substring(0, handlerString.indexOf(base));
  const match = base.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName("Bad handler");
  const [, moduleName, property] = match;
  globalThis.awslambda = {
    streamifyResponse: () => {
      throw new Error("Response streaming (awslambda.streamifyResponse) is not supported by lamina yet");
    },
  };
  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e?.code === "MODULE_NOT_FOUND") throw new ImportModuleError(e);
    throw e;
  }
  const fn = property.split(".").reduce((o, k) => o && o[k], app);
  if (!fn) throw new HandlerNotFound(`${handlerString} is undefined or not exported`);
  if (typeof fn !== "function") throw new HandlerNotFound(`${handlerString} is not a function`);
  return fn;
}

// ---- invocations ----------------------------------------------------------------------------

// What happens when the event loop runs dry: a callback waiting for it, or the default answer
// (null) for a handler that never called back.
let beforeExit = () => {};
// Where uncaught errors go: the current invocation once one runs, else Init.
let onUncaught = (error) => postInitError(error).then(() => process.exit(129), () => process.exit(129));
let onRejection = (error) => postInitError(error).then(() => process.exit(128), () => process.exit(128));

function contextFor(headers, controls) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const json = (value, name) => {
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value);
    } catch (err) {
      throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
    }
  };
  if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
  else delete process.env._X_AMZN_TRACE_ID;
  return Object.assign(controls, {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: json(headers["lambda-runtime-client-context"], "ClientContext"),
    identity: json(headers["lambda-runtime-cognito-identity"], "CognitoIdentity"),
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

async function handleOnce(handler) {
  const next = await request("GET", "/invocation/next").catch(lost);
  const headers = next.headers;
  const id = headers["lambda-runtime-aws-request-id"];
  currentRequestId = id;
  const scheduleNext = () => setImmediate(() => handleOnce(handler));

  // One answer per invocation: the first of callback, succeed/fail/done, a settled promise or the
  // default at an empty event loop wins.
  let answered = false;
  let waitForEmptyEventLoop = true;
  const answer = (err, result) => {
    if (answered) return;
    answered = true;
    beforeExit = () => {};
    if (err !== undefined && err !== null) {
      logError("Invoke Error", err);
      postError(id, err).then(scheduleNext, lost);
      return;
    }
    let body;
    try {
      body = serialize(result);
    } catch (e) {
      answered = false;
      answer(e);
      return;
    }
    postResponse(id, body).then(scheduleNext, lost);
  };
  const callback = (err, result) => {
    if (answered) return;
    if ((err !== undefined && err !== null) || !waitForEmptyEventLoop) return answer(err, result);
    beforeExit = () => setImmediate(() => answer(null, result));
  };
  const controls = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: (result) => answer(null, result),
    fail: (err) => answer(err === undefined || err === null ? "handled" : err, null),
    done: (err, result) => answer(err, result),
  };
  onUncaught = (error) => postError(id, error).then(() => process.exit(129), () => process.exit(129));
  onRejection = (error) => postError(id, error).then(() => process.exit(128), () => process.exit(128));
  beforeExit = () => answer(null, null);
  try {
    const event = JSON.parse(next.body.toString("utf8"));
    const result = handler(event, contextFor(headers, controls), callback);
    if (result && typeof result.then === "function") result.then(controls.succeed, controls.fail);
  } catch (err) {
    callback(err);
  }
}

async function main() {
  patchConsole();
  process.on("uncaughtException", (error) => {
    logError("Uncaught Exception", error);
    onUncaught(error);
  });
  process.on("unhandledRejection", (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError("Unhandled Promise Rejection", error);
    onRejection(error);
  });
  process.on("beforeExit", () => beforeExit());
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || "");
  } catch (error) {
    logError("Uncaught Exception", error);
    await postInitError(error).catch(() => {});
    process.exit(129);
  }
  setImmediate(() => handleOnce(handler));
}

main();

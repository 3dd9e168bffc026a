"""lamina's Python runtime client.

Started by the lamina daemon as ``<python3.X> -u bootstrap.py`` with cwd = LAMBDA_TASK_ROOT.
Talks to the Runtime API at ``http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/...`` and
reproduces what AWS's managed Python runtime (awslambdaric) does that a function can observe:
sys.path layout, handler resolution and its Runtime.* init errors, the context object, event
and result (un)marshalling, error documents, and the root logger's output format.

Standard library only; runs on Python 3.8 - 3.13. One file, no package: the daemon embeds it.
"""

import importlib
import json
import logging
import os
import re
import socket
import sys
import time
import traceback

__version__ = "1.0.0"

_API_PREFIX = "/2018-06-01/runtime/"
_ERROR_TYPE_HEADER = b"Lambda-Runtime-Function-Error-Type"
_XRAY_CAUSE_HEADER = b"Lambda-Runtime-Function-XRay-Error-Cause"
_XRAY_CAUSE_MAX = 1024 * 1024

# Error log lines are joined with CR so that one error stays one log line/event; leading
# spaces of traceback lines become NO-BREAK SPACE (U+00A0), exactly as awslambdaric does.
_ERROR_LINE_SEP = "\r"
_ERROR_INDENT = "\u00a0"

# Runtime.* fault types (awslambdaric's FaultException constants).
MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

_UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


class FaultException(Exception):
    """A runtime-detected fault reported with a ``Runtime.*`` error type."""

    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


# --------------------------------------------------------------------------------------------
# JSON (awslambdaric uses simplejson with use_decimal=False, allow_nan=True; Decimal values are
# written verbatim, Decimal NaN as NaN, bytes are decoded as UTF-8, objects with _asdict() are
# written as objects; python3.12+ runtimes also write non-ASCII characters unescaped).
# --------------------------------------------------------------------------------------------

_ENSURE_ASCII_OFF_ENVS = {
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
}


class _Encoder(json.JSONEncoder):
    def __init__(self, ensure_ascii):
        json.JSONEncoder.__init__(self, ensure_ascii=ensure_ascii, allow_nan=True)
        self._raw = None
        self._token = "\u0000lamina-raw-%x-" % id(self)

    def default(self, o):
        dec = _decimal_type()
        if dec is not None and isinstance(o, dec):
            if o.is_nan():
                return float("nan")
            # Emit str(o) verbatim (like simplejson's RawJSON): encode a unique placeholder
            # string now and substitute it after encoding.
            if self._raw is None:
                self._raw = []
            self._raw.append(str(o))
            return "%s%d" % (self._token, len(self._raw) - 1)
        if isinstance(o, bytes):
            return o.decode("utf-8")
        asdict = getattr(o, "_asdict", None)
        if asdict is not None and callable(asdict):
            return asdict()
        return json.JSONEncoder.default(self, o)

    def encode(self, o):
        self._raw = None
        try:
            s = json.JSONEncoder.encode(self, o)
        except BaseException:
            self._raw = None
            raise
        raw = self._raw
        if raw is not None:
            self._raw = None
            for i, text in enumerate(raw):
                placeholder = json.JSONEncoder.encode(self, "%s%d" % (self._token, i))
                s = s.replace(placeholder, text, 1)
        return s


def _decimal_type():
    # Only look at decimal if the function loaded it (importing it costs startup time).
    mod = sys.modules.get("decimal")
    return None if mod is None else mod.Decimal


_ENCODER = _Encoder(ensure_ascii=os.environ.get("AWS_EXECUTION_ENV") not in _ENSURE_ASCII_OFF_ENVS)
_ENCODER_ASCII = _Encoder(ensure_ascii=True)


def to_json(obj):
    return _ENCODER.encode(obj)


def _utf8(text):
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: awslambdaric crashes here; lamina falls back to \\u escapes.
        return None


# --------------------------------------------------------------------------------------------
# Context object (mirrors awslambdaric.lambda_context).
# --------------------------------------------------------------------------------------------


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "%s([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.__class__.__name__,
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            "%s([installation_id=%s,app_title=%s,app_version_name=%s,app_version_code=%s,app_package_name=%s])"
            % (
                self.__class__.__name__,
                self.installation_id,
                self.app_title,
                self.app_version_name,
                self.app_version_code,
                self.app_package_name,
            )
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "%s([custom=%s,env=%s,client=%s])" % (
            self.__class__.__name__,
            self.custom,
            self.env,
            self.client,
        )


def _obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field, None))
    return obj


_context_env = None  # the function's environment values the context carries, read once


def _load_context_env():
    global _context_env
    get = os.environ.get
    _context_env = (
        get("AWS_LAMBDA_LOG_GROUP_NAME"),
        get("AWS_LAMBDA_LOG_STREAM_NAME"),
        get("AWS_LAMBDA_FUNCTION_NAME"),
        get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        get("AWS_LAMBDA_FUNCTION_VERSION"),
    )
    return _context_env


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        env = _context_env or _load_context_env()
        self.aws_request_id = invoke_id
        self.log_group_name = env[0]
        self.log_stream_name = env[1]
        self.function_name = env[2]
        # A str, as on AWS (awslambdaric copies the environment variable).
        self.memory_limit_in_mb = env[3]
        self.function_version = env[4]
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        self.client_context = _obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _obj_from_dict(Client, self.client_context.client)

        self.identity = _obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "%s([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,"
            "identity=%s,tenant_id=%s])"
            % (
                self.__class__.__name__,
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


# --------------------------------------------------------------------------------------------
# Logging (root logger handler in AWS's TEXT or JSON format).
# --------------------------------------------------------------------------------------------

_request_id = None  # id of the current (or last) invocation, for the log filter
_tenant_id = None

_LOG_FORMAT_JSON = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


def _log_level_from_env(value):
    # awslambdaric: unset -> "" (leave the root logger at WARNING); TRACE -> DEBUG.
    return {None: "", "TRACE": "DEBUG"}.get(value, value).upper()


_JSON_RESERVED = frozenset(
    [
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
        "relativeCreated", "thread", "threadName", "processName", "process",
        "aws_request_id", "tenant_id", "_frame_type",
    ]
)  # fmt: skip


class _JsonFormatter(logging.Formatter):
    def __init__(self):
        logging.Formatter.__init__(self, datefmt="%Y-%m-%dT%H:%M:%SZ")
        self._encode = json.JSONEncoder(ensure_ascii=False).encode

    def format(self, record):
        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        exc = record.exc_info
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": "%s:%s:%s" % (record.pathname, record.funcName, record.lineno) if exc else None,
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        for key, value in record.__dict__.items():
            if key not in _JSON_RESERVED and key not in result:
                result[key] = value
        return self._encode({k: v for k, v in result.items() if v is not None}) + "\n"


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        record.tenant_id = _tenant_id
        return True


class LambdaLoggerHandler(logging.Handler):
    """Writes each record to stdout as one line (the daemon turns stdout lines into log events;
    on AWS each record is one event, so embedded newlines are sent as CR)."""

    def emit(self, record):
        try:
            msg = self.format(record)
            if msg.endswith("\n"):
                msg = msg[:-1]
            if "\n" in msg:
                msg = msg.replace("\n", "\r")
            sys.stdout.write(msg + "\n")
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def _setup_logging():
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    handler = LambdaLoggerHandler()
    if _LOG_FORMAT_JSON:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    level = _log_level_from_env(os.environ.get("AWS_LAMBDA_LOG_LEVEL"))
    if level in logging._nameToLevel:
        root.setLevel(level)
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)


def _replace_indent(line):
    n = len(line) - len(line.lstrip(" "))
    return _ERROR_INDENT * n + line[n:] if n else line


def log_error(error_result):
    """Writes an error document to stdout the way awslambdaric's StandardLogSink does."""
    if _LOG_FORMAT_JSON:
        doc = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time())),
            "log_level": "ERROR",
        }
        doc.update(error_result)
        sys.stdout.write(to_json(doc) + "\n")
        return
    desc = "[ERROR]"
    etype = error_result.get("errorType")
    if etype:
        desc += " " + etype
    emsg = error_result.get("errorMessage")
    if emsg:
        if etype:
            desc += ":"
        desc += " " + emsg
    lines = [desc]
    stack = error_result.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                for line in element.splitlines():
                    lines.append(_replace_indent(line))
    text = _ERROR_LINE_SEP.join(lines)
    if "\n" in text:
        # A multi-line message: keep the error one line (on AWS it is one log event).
        text = text.replace("\n", _ERROR_LINE_SEP)
    sys.stdout.write(text + "\n")


# --------------------------------------------------------------------------------------------
# Error documents.
# --------------------------------------------------------------------------------------------


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb):
    """Traceback entries as (file, line, name, text), minus the leading bootstrap.py frames."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i in range(len(frames)):
        if "/bootstrap.py" not in frames[i][0]:
            return frames[i:]
    return frames


def _xray_fault(ex_type, ex_msg, frames):
    stack = []
    paths = []
    for filename, lineno, name, _ in frames:
        stack.append({"label": name, "path": filename, "line": lineno})
        if filename not in paths:
            paths.append(filename)
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    return {
        "working_directory": cwd,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": paths,
    }


# --------------------------------------------------------------------------------------------
# Runtime API client: one keep-alive HTTP/1.1 connection over a plain socket.
#
# A deliberately small HTTP/1.1 client: http.client costs ~25 ms of import time (it pulls in
# ssl and email) and ~200 us of CPU per invoke (email-based header parsing), several times
# what the rest of an invoke costs. The Runtime API is a local, well-behaved server; this
# client handles Content-Length and chunked bodies, Connection: close and interim 1xx answers.
# --------------------------------------------------------------------------------------------


class RuntimeApiError(Exception):
    pass


class _ProtocolError(Exception):
    pass


_SAFE_ID = re.compile(r"[A-Za-z0-9._~-]+\Z").match
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\Z").match
_MAX_LINE = 65536
_BIG_BODY = 64 * 1024


def _quote_id(invoke_id):
    if _SAFE_ID(invoke_id):
        return invoke_id
    from urllib.parse import quote

    return quote(invoke_id, safe="")


def _header_value(value):
    if isinstance(value, str):
        value = value.encode("utf-8", "replace")
    if b"\r" in value or b"\n" in value:
        value = value.replace(b"\r", b" ").replace(b"\n", b" ")
    return value


class RuntimeClient(object):
    NEXT_RETRIES = 3

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        try:
            self.port = int(port)
        except ValueError:
            raise RuntimeApiError("AWS_LAMBDA_RUNTIME_API is not host:port: %r" % (address,))
        self.host = host or "127.0.0.1"
        v = sys.version_info
        self._common = (
            "Host: %s\r\nUser-Agent: aws-lambda-python/%d.%d.%d-lamina-%s\r\n"
            % (address, v[0], v[1], v[2], __version__)
        ).encode("latin-1", "replace")
        self._next_request = b"GET " + _API_PREFIX.encode() + b"invocation/next HTTP/1.1\r\n" + self._common + b"\r\n"
        self.sock = None
        self.rfile = None
        self.used = False  # the current connection already completed an exchange

    # -- connection --------------------------------------------------------------------------

    def _connect(self):
        if _IPV4(self.host):
            # An address literal (the usual 127.0.0.1): skip getaddrinfo and its idna import.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.connect((self.host, self.port))
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.host, self.port))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.sock = sock
        self.rfile = sock.makefile("rb")
        self.used = False

    def close(self):
        sock, rfile = self.sock, self.rfile
        self.sock = self.rfile = None
        for obj in (rfile, sock):
            if obj is not None:
                try:
                    obj.close()
                except OSError:
                    pass

    def _exchange(self, head, body=None):
        """Sends one request and reads its response: (status, headers, body)."""
        if self.sock is None:
            self._connect()
        sock = self.sock
        if body is None:
            sock.sendall(head)
        elif len(body) <= _BIG_BODY:
            sock.sendall(head + body)
        else:
            sock.sendall(head)
            sock.sendall(body)
        status, headers, rbody, keep = self._read_response()
        if keep:
            self.used = True
        else:
            self.close()
        return status, headers, rbody

    def _read_response(self):
        rfile = self.rfile
        while True:
            line = rfile.readline(_MAX_LINE)
            if not line:
                raise ConnectionError("connection closed by the Runtime API")
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                raise _ProtocolError("bad status line %r" % (line[:100],))
            try:
                status = int(parts[1])
            except ValueError:
                raise _ProtocolError("bad status line %r" % (line[:100],))
            headers = {}
            while True:
                line = rfile.readline(_MAX_LINE)
                if not line:
                    raise ConnectionError("connection closed by the Runtime API")
                if line == b"\r\n" or line == b"\n":
                    break
                name, sep, value = line.partition(b":")
                if sep:
                    headers[name.strip().lower().decode("latin-1")] = value.strip().decode("utf-8", "replace")
            if 100 <= status < 200:
                continue  # interim response; the real one follows
            break
        keep = parts[0] != b"HTTP/1.0" and headers.get("connection", "").lower() != "close"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise _ProtocolError("bad Content-Length")
            body = rfile.read(length) if length else b""
            if len(body) != length:
                raise ConnectionError("connection closed by the Runtime API mid-body")
        elif status == 204 or status == 304:
            body = b""
        else:
            body = rfile.read()
            keep = False
        return status, headers, body, keep

    def _read_chunked(self):
        rfile = self.rfile
        chunks = []
        while True:
            line = rfile.readline(_MAX_LINE)
            if not line:
                raise ConnectionError("connection closed by the Runtime API mid-body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _ProtocolError("bad chunk size")
            if size == 0:
                while True:  # trailers
                    line = rfile.readline(_MAX_LINE)
                    if not line or line == b"\r\n" or line == b"\n":
                        return b"".join(chunks)
            data = rfile.read(size)
            rfile.readline(_MAX_LINE)
            if len(data) != size:
                raise ConnectionError("connection closed by the Runtime API mid-body")
            chunks.append(data)

    # -- Runtime API calls -------------------------------------------------------------------

    def next(self):
        """GET /next; retries a broken connection a few times, then gives up."""
        delay = 0.05
        attempt = 0
        while True:
            try:
                status, headers, body = self._exchange(self._next_request)
                break
            except (OSError, _ProtocolError) as e:
                self.close()
                attempt += 1
                if attempt > self.NEXT_RETRIES:
                    raise RuntimeApiError("Failed to get next invocation: %s" % (e,))
                time.sleep(delay)
                delay *= 2
        if status != 200:
            raise RuntimeApiError(
                "Failed to get next invocation. Http Response code: %d. %s"
                % (status, body.decode("utf-8", "replace"))
            )
        return body, headers

    def _post(self, path, body, extra_headers, what):
        head = [b"POST ", path.encode("utf-8"), b" HTTP/1.1\r\n", self._common]
        for name, value in extra_headers:
            head += [name, b": ", _header_value(value), b"\r\n"]
        head += [b"Content-Length: ", str(len(body)).encode(), b"\r\n\r\n"]
        head = b"".join(head)
        try:
            try:
                status, _, rbody = self._exchange(head, body)
            except (OSError, _ProtocolError):
                # The peer may have closed the idle keep-alive connection: one retry on a new one.
                reused = self.used
                self.close()
                if not reused:
                    raise
                status, _, rbody = self._exchange(head, body)
        except (OSError, _ProtocolError) as e:
            self.close()
            raise RuntimeApiError("Failed to post %s: %s" % (what, e))
        if not 200 <= status < 300:
            raise RuntimeApiError(
                "Failed to post %s. Http response code: %d. %s" % (what, status, rbody.decode("utf-8", "replace"))
            )

    def post_result(self, invoke_id, body, content_type):
        self._post(
            _API_PREFIX + "invocation/" + _quote_id(invoke_id) + "/response",
            body,
            ((b"Content-Type", content_type),),
            "invocation response",
        )

    def post_error(self, invoke_id, error_result, error_type, xray_fault):
        headers = [(b"Content-Type", b"application/json"), (_ERROR_TYPE_HEADER, error_type)]
        if xray_fault is not None:
            cause = to_json(xray_fault).encode("utf-8", "replace")
            if len(cause) < _XRAY_CAUSE_MAX:
                headers.append((_XRAY_CAUSE_HEADER, cause))
        self._post(
            _API_PREFIX + "invocation/" + _quote_id(invoke_id) + "/error",
            _error_body(error_result),
            headers,
            "invocation error",
        )

    def post_init_error(self, error_result):
        self._post(
            _API_PREFIX + "init/error",
            _error_body(error_result),
            ((b"Content-Type", b"application/json"), (_ERROR_TYPE_HEADER, error_result["errorType"])),
            "init error",
        )


def _error_body(error_result):
    body = _utf8(to_json(error_result))
    return body if body is not None else _ENCODER_ASCII.encode(error_result).encode("ascii")


# --------------------------------------------------------------------------------------------
# Init: sys.path, handler resolution.
# --------------------------------------------------------------------------------------------


def _setup_sys_path(task_root):
    """AWS's /var/runtime/bootstrap.py: task root, then the layer directories (unless PYTHONPATH
    is set), each also processed as a site directory so that .pth files work."""
    pythonpath_set = "PYTHONPATH" in os.environ
    layer_site = "/opt/python/lib/python%d.%d/site-packages" % sys.version_info[:2]
    if not pythonpath_set:
        sys.path.insert(0, "/opt/python")
        sys.path.insert(0, layer_site)
    sys.path.insert(0, task_root)
    import site

    site.addsitedir(task_root)
    if not pythonpath_set:
        site.addsitedir(layer_site)
        site.addsitedir("/opt/python")
        runtime_dir = os.environ.get("LAMBDA_RUNTIME_DIR")
        if runtime_dir:
            os.environ["PYTHONPATH"] = runtime_dir


def get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e)))

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(modname, str(e)))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )

    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
        )


# --------------------------------------------------------------------------------------------
# Invocation loop.
# --------------------------------------------------------------------------------------------


def _parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultException(LAMBDA_CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, str(e)))


def _fatal(msg):
    try:
        sys.stderr.write("[lamina-python] %s\n" % (msg,))
    except Exception:
        pass
    sys.exit(1)


def _run_loop(client, request_handler):
    global _request_id, _tenant_id
    environ = os.environ
    encode = _ENCODER.encode
    loads = json.loads
    while True:
        try:
            event_body, headers = client.next()
        except RuntimeApiError as e:
            _fatal(str(e))
        invoke_id = headers.get("lambda-runtime-aws-request-id")
        if invoke_id is None:
            _fatal("Failed to find header Lambda-Runtime-Aws-Request-Id in response")
        tenant_id = headers.get("lambda-runtime-aws-tenant-id") or None
        _request_id = invoke_id
        _tenant_id = tenant_id

        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]

        error_result = None
        try:
            client_context = headers.get("lambda-runtime-client-context")
            client_context = _parse_json_header(client_context, "Client Context") if client_context else None
            cognito = headers.get("lambda-runtime-cognito-identity")
            cognito = _parse_json_header(cognito, "Cognito Identity") if cognito else None
            try:
                deadline = int(headers.get("lambda-runtime-deadline-ms") or 0)
            except ValueError:
                deadline = 0
            context = LambdaContext(
                invoke_id,
                client_context,
                cognito,
                deadline,
                headers.get("lambda-runtime-invoked-function-arn") or "",
                tenant_id,
            )
            if headers.get("content-type") == "application/json":
                try:
                    event = loads(event_body)
                except Exception as e:
                    raise FaultException(UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)))
            else:
                event = event_body

            response = request_handler(event, context)

            if isinstance(response, bytes):
                result, content_type = response, b"application/unknown"
            else:
                try:
                    result = encode(response)
                except Exception as e:
                    raise FaultException(MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)))
                content_type = b"application/json"
                body = _utf8(result)
                result = body if body is not None else _ENCODER_ASCII.encode(response).encode("ascii")
        except FaultException as e:
            error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
            error_type = e.exception_type
            xray = _xray_fault("LambdaValidationError", e.msg, [])
        except Exception:
            etype, value, tb = sys.exc_info()
            frames = _user_frames(tb)
            error_type = etype.__name__
            error_result = make_error(str(value), error_type, traceback.format_list(frames), invoke_id)
            xray = _xray_fault(error_type, str(value), frames)
            del tb

        try:
            if error_result is None:
                client.post_result(invoke_id, result, content_type)
            else:
                log_error(error_result)
                client.post_error(invoke_id, error_result, error_type, xray)
        except RuntimeApiError as e:
            _fatal(str(e))
        # Drop references to the previous invocation's objects before blocking in /next.
        error_result = result = response = event = context = event_body = None


def main():
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set")
    handler_name = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER", "")
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()

    for stream in (sys.stdout, sys.stderr):
        # Started without -u: flush at least every line so output reaches the daemon promptly.
        if not getattr(stream, "write_through", True):
            try:
                stream.reconfigure(line_buffering=True, write_through=True)
            except Exception:
                pass

    try:
        client = RuntimeClient(address)
    except RuntimeApiError as e:
        _fatal(str(e))
    _setup_sys_path(task_root)

    error_result = None
    try:
        _setup_logging()
        request_handler = get_handler(handler_name)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        etype, value, tb = sys.exc_info()
        error_result = make_error(str(value), etype.__name__, traceback.format_list(_user_frames(tb)))
        del tb

    if error_result is not None:
        logging.warning(_UNHANDLED_WARNING)
        log_error(error_result)
        try:
            client.post_init_error(error_result)
        except RuntimeApiError as e:
            _fatal(str(e))
        sys.exit(1)

    _load_context_env()  # after the function's global code, which could have changed them
    _run_loop(client, request_handler)


if __name__ == "__main__":
    main()

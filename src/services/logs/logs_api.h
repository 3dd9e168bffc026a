// The CloudWatch Logs API (JSON 1.1 protocol, X-Amz-Target "Logs_20140328.<Operation>") over a
// LogStore: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, CreateLogStream, DescribeLogStreams,
// PutLogEvents, GetLogEvents, FilterLogEvents. The router recognises the request (target prefix or
// SigV4 service "logs") and passes the operation name; authentication happens before this.
//
// Errors are AWS-shaped: status 400 (500 for our own failures), `x-amzn-ErrorType`, body
// {"__type":"ResourceNotFoundException","message":"…"}. Every response carries x-amzn-RequestId.
// Thread-safe: a plain function of the request and the store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"
#include "services/logs/log_store.h"

namespace lamina::services::logs {

// `operation` is the part of X-Amz-Target after "Logs_20140328."; nowMs is the request's arrival
// time (ingestion time of PutLogEvents, creation times). ARNs use the region of the request's SigV4
// credential scope.
http::Response handleLogsRequest(LogStore& store, const http::Request& req, std::string_view operation, int64_t nowMs);

// The region of "Authorization: AWS4-HMAC-SHA256 Credential=AK/20240101/<region>/logs/aws4_request, …",
// or "us-east-1" if absent or malformed.
std::string regionOf(const http::Request& req);

}  // namespace lamina::services::logs

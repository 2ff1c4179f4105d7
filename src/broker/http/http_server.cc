#include "broker/http/http_server.h"

#include <httplib.h>

#include <chrono>
#include <fstream>
#include <mutex>

#include "broker/http/api.h"
#include "broker/http/metrics.h"
#include "broker/http/read_txn.h"
#include "broker/store.h"
#include "common/clock.h"
#include "common/log.h"
#include "leaseq_http_assets.h"

namespace leaseq {

namespace {

// Handler threads: a few keep-alive connections (a browser, a scraper) must
// not starve the others; they share one reader (one query at a time).
constexpr int kThreads = 4;
constexpr int kKeepAliveSeconds = 5;
// /healthz: the loop commits every pass (at least every 50 ms when idle).
constexpr int64_t kMaxQuietMs = 5000;
// A retry or cancel waits this long for the loop's commit.
constexpr int kWriteTimeoutMs = 10000;
const char* const kCookie = "leaseq_token";
// The chart's history: one sample a second for 10 minutes.
constexpr int64_t kSampleMs = 1000;
constexpr size_t kSamples = 600;

// The HTTP threads read the real clocks (the loop's may be injected; the
// pages only show times).
int64_t WallMs() { return SystemClock().WallMs(); }
int64_t SteadyMs() { return SystemClock().SteadyMs(); }

bool IsLoopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "::1";
}

// Compares without stopping at the first difference (no timing hint).
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::string CookieToken(const httplib::Request& req) {
  const std::string cookies = req.get_header_value("Cookie");
  const std::string name = std::string(kCookie) + "=";
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string part = cookies.substr(pos, end - pos);
    part.erase(0, part.find_first_not_of(' '));
    if (part.rfind(name, 0) == 0) return part.substr(name.size());
    pos = end + 1;
  }
  return "";
}

void Json(httplib::Response& res, const nlohmann::json& j, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(j.dump(), "application/json");
}

void Error(httplib::Response& res, const Status& s) {
  int status = 500;
  if (s.code() == Status::Code::kNotFound) status = 404;
  if (s.code() == Status::Code::kInvalid) status = 400;
  if (s.code() == Status::Code::kUnavailable) status = 503;
  Json(res, {{"error", s.message()}}, status);
}

int64_t IntParam(const httplib::Request& req, const char* name, int64_t fallback) {
  if (!req.has_param(name)) return fallback;
  try {
    return std::stoll(req.get_param_value(name));
  } catch (const std::exception&) {
    return fallback;
  }
}

const char* const kLoginPage = R"(<!doctype html><html><head><meta charset="utf-8">
<title>leaseq: sign in</title><link rel="stylesheet" href="/style.css"></head>
<body class="login"><form method="post" action="/login"><h1>leaseq</h1>
<p>This broker needs its token (the contents of its --http-token-file).</p>
<input type="password" name="token" autofocus placeholder="token">
<button type="submit">Sign in</button></form></body></html>)";

}  // namespace

Status HttpServer::Check(const std::string& listen, bool has_token, std::string* host, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::Invalid("--http: '" + listen + "' is not ADDR:PORT (for example 127.0.0.1:8080)");
  }
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  try {
    size_t used = 0;
    *port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || *port < 0 || *port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return Status::Invalid("--http: '" + listen.substr(colon + 1) + "' is not a port (0-65535)");
  }
  if (!IsLoopback(*host) && !has_token) {
    return Status::Invalid("refusing to serve HTTP on '" + listen +
                           "' without a token: bind a loopback address (127.0.0.1), or give "
                           "--http-token-file FILE so that every request must carry it");
  }
  return Status::Ok();
}

Status HttpServer::LoadToken(const std::string& path, std::string* token) {
  std::ifstream in(path);
  if (!in) return Status::Invalid("--http-token-file: cannot read " + path);
  std::string line;
  std::getline(in, line);
  const auto first = line.find_first_not_of(" \t\r\n");
  const auto last = line.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return Status::Invalid("--http-token-file: " + path + " is empty");
  *token = line.substr(first, last - first + 1);
  return Status::Ok();
}

std::string HttpServer::url() const {
  const std::string h = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return "http://" + h + ":" + std::to_string(port_) + "/";
}

Status HttpServer::Start(const HttpOptions& options, std::shared_ptr<BrokerMetrics> metrics,
                         std::shared_ptr<Inbox> inbox, std::unique_ptr<HttpServer>* out) {
  std::unique_ptr<HttpServer> h(new HttpServer());
  h->options_ = options;
  h->metrics_ = std::move(metrics);
  h->inbox_ = std::move(inbox);
  Status s = Check(options.listen, !options.token.empty(), &h->host_, &h->port_);
  if (!s.ok()) return s;
  s = Store::OpenReadOnly(options.db_path, &h->reader_);
  if (!s.ok()) return s;
  h->reader_mu_ = std::make_unique<std::mutex>();
  h->server_ = std::make_unique<httplib::Server>();
  h->server_->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  h->server_->set_keep_alive_timeout(kKeepAliveSeconds);
  h->Routes();
  if (h->port_ == 0) {
    h->port_ = h->server_->bind_to_any_port(h->host_);
    if (h->port_ <= 0) return Status::Unavailable("--http: cannot bind " + options.listen);
  } else if (!h->server_->bind_to_port(h->host_, h->port_)) {
    return Status::Unavailable("--http: cannot bind " + options.listen + " (in use?)");
  }
  httplib::Server* server = h->server_.get();
  h->thread_ = std::thread([server] { server->listen_after_bind(); });
  HttpServer* self = h.get();
  h->sampler_ = std::thread([self] { self->Sample(); });
  *out = std::move(h);
  return Status::Ok();
}

HttpServer::~HttpServer() {
  {
    std::lock_guard<std::mutex> lock(sample_mu_);
    stopping_ = true;
  }
  sample_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void HttpServer::Sample() {
  std::unique_lock<std::mutex> lock(sample_mu_);
  while (!stopping_) {
    lock.unlock();
    nlohmann::json counts, workers;
    Status s;
    {
      std::lock_guard<std::mutex> reader_lock(*reader_mu_);
      ReadTxn txn(*reader_);
      s = txn.status().ok() ? reader_->Counts(&counts, &workers) : txn.status();
    }
    const int64_t done = metrics_->Snapshot().done;
    lock.lock();
    if (s.ok()) {
      history_.push_back({{"t", WallMs()}, {"counts", counts}, {"done", done}});
      if (history_.size() > kSamples) history_.pop_front();
    }
    sample_cv_.wait_for(lock, std::chrono::milliseconds(kSampleMs), [this] { return stopping_; });
  }
}

void HttpServer::Routes() {
  httplib::Server& svr = *server_;
  const std::string token = options_.token;
  const bool writable = !token.empty() && inbox_ != nullptr;

  // With a token, nothing is served (not even the page's assets) and
  // nothing is done without it: 401 before any handler runs.
  svr.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    if (token.empty() || req.path == "/login" || req.path == "/style.css") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string auth = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    const bool ok = (auth.rfind(bearer, 0) == 0 && SameSecret(auth.substr(bearer.size()), token)) ||
                    SameSecret(CookieToken(req), token);
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer realm=\"leaseq\"");
    if (req.method == "GET" && req.path == "/") {
      res.set_content(kLoginPage, "text/html; charset=utf-8");
    } else {
      res.set_content("{\"error\":\"this broker needs its token: Authorization: Bearer <token>\"}",
                      "application/json");
    }
    return httplib::Server::HandlerResponse::Handled;
  });

  svr.Get("/login", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kLoginPage, "text/html; charset=utf-8");
  });
  svr.Post("/login", [token](const httplib::Request& req, httplib::Response& res) {
    // A browser cannot put a header on a page load: the same token, once
    // checked, goes in a cookie only this site's requests carry.
    if (token.empty() || !SameSecret(req.get_param_value("token"), token)) {
      res.status = 401;
      res.set_content(kLoginPage, "text/html; charset=utf-8");
      return;
    }
    res.set_header("Set-Cookie", std::string(kCookie) + "=" + token +
                                     "; Path=/; HttpOnly; SameSite=Strict");
    res.set_redirect("/", 303);
  });

  for (const auto& asset : kLeaseqAssets) {
    const std::string path = std::string(asset.path) == "/index.html" ? "/" : asset.path;
    svr.Get(path, [asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(asset.text, asset.content_type);
    });
  }

  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string text;
    std::lock_guard<std::mutex> lock(*reader_mu_);
    Status s = RenderMetrics(*reader_, metrics_->Snapshot(), options_.db_path, WallMs(), &text);
    if (!s.ok()) return Error(res, s);
    res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(*reader_mu_);
    Status s = Health(*reader_, metrics_->Snapshot(), SteadyMs(), kMaxQuietMs);
    res.status = s.ok() ? 200 : 503;
    res.set_content(s.ok() ? "ok\n" : s.message() + "\n", "text/plain; charset=utf-8");
  });
  svr.Get("/api/status", [this, writable](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json j;
    {
      std::lock_guard<std::mutex> lock(*reader_mu_);
      Status s = ApiStatus(*reader_, metrics_->Snapshot(), WallMs(), writable, &j);
      if (!s.ok()) return Error(res, s);
    }
    if (req.has_param("history")) {  // the chart's first draw
      std::lock_guard<std::mutex> lock(sample_mu_);
      j["history"] = nlohmann::json(history_);
    }
    Json(res, j);
  });
  svr.Get("/api/workers", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json j;
    std::lock_guard<std::mutex> lock(*reader_mu_);
    Status s = ApiWorkers(*reader_, metrics_->Snapshot(), IntParam(req, "offset", 0),
                          IntParam(req, "limit", 50), &j);
    if (!s.ok()) return Error(res, s);
    Json(res, j);
  });
  svr.Get("/api/tasks", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json j;
    std::lock_guard<std::mutex> lock(*reader_mu_);
    Status s = ApiTasks(*reader_, req.get_param_value("state"), req.get_param_value("queue"),
                        IntParam(req, "limit", 100), &j);
    if (!s.ok()) return Error(res, s);
    Json(res, j);
  });
  svr.Get(R"(/api/tasks/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json j;
    std::lock_guard<std::mutex> lock(*reader_mu_);
    Status s = ApiTask(*reader_, req.matches[1].str(), &j);
    if (!s.ok()) return Error(res, s);
    Json(res, j);
  });

  // POST /api/retry?key=K and /api/cancel?key=K: the request leaseq-ctl
  // retry / cancel sends, handled by the loop (inbox.h).
  for (const char* verb : {"retry", "cancel"}) {
    const std::string command = verb;
    svr.Post("/api/" + command, [this, writable, command](const httplib::Request& req,
                                                         httplib::Response& res) {
      if (!writable) {
        return Json(res, {{"error", "read-only: start the broker with --http-token-file to " + command}},
                    403);
      }
      const std::string key = req.get_param_value("key");
      if (key.empty()) return Json(res, {{"error", "give the task's key: ?key=KEY"}}, 400);
      wire::Message reply;
      Status s = inbox_->Call(
          wire::Make(command == "retry" ? wire::Command::kRetry : wire::Command::kCancel,
                     {{wire::field::kKeys, {key}}}),
          kWriteTimeoutMs, &reply);
      if (!s.ok()) return Error(res, s);
      if (reply.command == wire::Command::kError) {
        return Json(res, {{"error", wire::ErrorMessage(reply.body, "refused")}},
                    wire::RefusalOf(reply.body) == wire::Refusal::kUnavailable ? 503 : 400);
      }
      log::Info("http: " + command + " " + key);
      Json(res, {{"changed", reply.body.value(wire::field::kChanged, nlohmann::json::array())}});
    });
  }
}

}  // namespace leaseq

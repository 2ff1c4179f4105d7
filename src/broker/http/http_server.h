// HttpServer: the broker's HTTP endpoint (leaseq-broker --http ADDR:PORT):
// /metrics (Prometheus), /healthz, the JSON API under /api/ and the
// dashboard at / (assets compiled into the binary).
//
// It runs on its own threads (cpp-httplib's listener and a small pool) and
// reads through its own read-only SQLite connection, one request at a time
// (a mutex): a page view or a scrape never takes the broker loop's time or
// its write lock (WAL readers do not block the writer). Every query is an
// index range or a counter read (store.h says which), never a scan of the
// tasks. The only writes, retry and cancel, are posted to the loop through
// the Inbox (inbox.h says why), and only when a token is configured.
//
// Auth: without a token it listens on loopback only (Check refuses any
// other address); with a token every request must carry
// "Authorization: Bearer <token>" (or the cookie that /login sets from the
// same token, for a browser), else 401 and nothing is done.
//
// A sampler thread reads the counts by state once a second (one counter
// read) and keeps the last 10 minutes, so that the dashboard's chart has its
// history from the first page load.
//
// Thread-safe: Start and Stop from one thread; handlers run on the pool.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "broker/broker_metrics.h"
#include "broker/inbox.h"
#include "common/status.h"

namespace httplib {
class Server;
}

namespace leaseq {

class Store;

struct HttpOptions {
  std::string listen;  // ADDR:PORT (IPv6 as [::1]:PORT); port 0: any free port
  std::string token;   // empty: no token (loopback only, read-only)
  std::string db_path;
};

class HttpServer {
 public:
  // Parses ADDR:PORT and applies the rule: a non-loopback address needs a
  // token. Invalid with a message that says what to do.
  static Status Check(const std::string& listen, bool has_token, std::string* host, int* port);
  // Reads a token file: its first line, without surrounding white space;
  // an empty or unreadable file is an error.
  static Status LoadToken(const std::string& path, std::string* token);

  // Opens the read-only connection, binds and starts serving.
  static Status Start(const HttpOptions& options, std::shared_ptr<BrokerMetrics> metrics,
                       std::shared_ptr<Inbox> inbox, std::unique_ptr<HttpServer>* out);
  ~HttpServer();  // stops and joins

  int port() const { return port_; }
  std::string url() const;

 private:
  HttpServer() = default;
  void Routes();
  void Sample();  // the sampler thread's loop

  HttpOptions options_;
  std::string host_;
  int port_ = 0;
  std::shared_ptr<BrokerMetrics> metrics_;
  std::shared_ptr<Inbox> inbox_;
  std::unique_ptr<Store> reader_;
  std::unique_ptr<std::mutex> reader_mu_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::thread sampler_;
  std::mutex sample_mu_;  // guards history_ and stopping_
  std::condition_variable sample_cv_;
  bool stopping_ = false;
  std::deque<nlohmann::json> history_;  // {t, counts, done}, oldest first
};

}  // namespace leaseq

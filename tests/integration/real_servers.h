// Real third-party Go servers from Debian's packages, started for a test on
// loopback ports nobody else uses, with their own state in a temporary
// directory: caddy (its admin endpoint serves pprof) and prometheus
// scraping itself every second. Both are stripped go1.19 binaries.
#pragma once

#include <string>

#include "harness.h"

namespace mws::test {

// A loopback TCP port nobody listens on now.
int free_loopback_port();

struct RealServer {
  Child child;
  int port = 0;   // where it serves (caddy: the site; prometheus: web and /debug/pprof)
  int admin = 0;  // caddy's admin endpoint (its /debug/pprof); 0 for prometheus
};

// caddy serving `site_body` (the Caddyfile's site block, e.g. "\trespond \"ok\"\n")
// on `port`; returns once both ports answer.
RealServer start_caddy(const std::string& name, const std::string& site_body);

// Prometheus scraping itself every second, and each of `also_scrape`
// ("127.0.0.1:PORT") as job "mwscope".
RealServer start_prometheus(const std::string& name, const std::vector<std::string>& also_scrape = {});

}  // namespace mws::test

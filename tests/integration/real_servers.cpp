#include "real_servers.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

using namespace std::chrono;

namespace mws::test {

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
  socklen_t len = sizeof(a);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

RealServer start_caddy(const std::string& name, const std::string& site_body) {
  const int admin = free_loopback_port(), site = free_loopback_port();
  const std::string dir = temp_path(name);
  REQUIRE(run({"mkdir", "-p", dir}).status == 0);
  {
    std::ofstream cfg(dir + "/Caddyfile");
    cfg << "{\n\tadmin 127.0.0.1:" << admin << "\n\tauto_https off\n}\nhttp://127.0.0.1:" << site << " {\n"
        << site_body << "}\n";
  }
  RealServer s{Child::spawn({"env", "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "/usr/bin/caddy", "run",
                             "--config", dir + "/Caddyfile", "--adapter", "caddyfile"}),
               site, admin};
  INFO(s.child.stderr_text());
  REQUIRE(wait_port_open(admin, seconds(20)));
  REQUIRE(wait_port_open(site, seconds(20)));
  return s;
}

RealServer start_prometheus(const std::string& name, const std::vector<std::string>& also_scrape) {
  const int port = free_loopback_port();
  const std::string dir = temp_path(name);
  REQUIRE(run({"mkdir", "-p", dir + "/data"}).status == 0);
  {
    std::ofstream cfg(dir + "/p.yml");
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: self\n"
           "    static_configs:\n      - targets: ['127.0.0.1:"
        << port << "']\n";
    if (!also_scrape.empty()) {
      cfg << "  - job_name: mwscope\n    static_configs:\n      - targets: [";
      for (size_t i = 0; i < also_scrape.size(); i++) cfg << (i ? ", '" : "'") << also_scrape[i] << "'";
      cfg << "]\n";
    }
  }
  RealServer s{Child::spawn({"/usr/bin/prometheus", "--config.file=" + dir + "/p.yml",
                             "--web.listen-address=127.0.0.1:" + std::to_string(port),
                             "--storage.tsdb.path=" + dir + "/data"}),
               port, 0};
  INFO(s.child.stderr_text());
  REQUIRE(wait_port_open(port, seconds(30)));
  const auto deadline = steady_clock::now() + seconds(30);
  while (http_get(port, "/-/ready") != std::optional<std::string>("Prometheus Server is Ready.\n") &&
         steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(200));
  REQUIRE(http_get(port, "/-/ready") == std::optional<std::string>("Prometheus Server is Ready.\n"));
  return s;
}

}  // namespace mws::test

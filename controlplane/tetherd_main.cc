// tetherd: EAL arguments, then `--`, then Tether's own (see configs/README.md).
#include <rte_eal.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include "controlplane/config.h"
#include "controlplane/daemon.h"

namespace {

void onSignal(int signal) {
  if (signal == SIGHUP) {
    lb::controlplane::Daemon::requestReload();
  } else {
    lb::controlplane::Daemon::requestStop();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int eal_consumed = rte_eal_init(argc, argv);
  if (eal_consumed < 0) {
    std::fprintf(stderr, "tetherd: EAL initialisation failed (see the EAL messages above)\n");
    return 2;
  }
  argc -= eal_consumed;
  argv += eal_consumed;

  lb::controlplane::DaemonOptions options;
  CLI::App app{"tetherd: Tether load balancer daemon"};
  app.add_option("--config", options.config_path, "YAML configuration file")->required()->check(CLI::ExistingFile);
  app.add_option("--stats-file", options.stats_file, "write counters as JSON to this file");
  app.add_option("--stats-interval-ms", options.stats_interval_ms, "how often to write the stats file")
      ->check(CLI::Range(10u, 3600000u));
  app.add_option("--duration-s", options.duration_s, "stop after this many seconds (0 = run until signalled)");
  app.add_option("--api-address", options.api.address, "REST API listen address (default 127.0.0.1)");
  app.add_option("--api-port", options.api.port, "REST API port (default 9180; 0 = any free port)");
  std::string token_file;
  app.add_option("--api-token-file", token_file, "require `Authorization: Bearer <token>` with the token in this file")
      ->check(CLI::ExistingFile);
  bool no_api = false;
  app.add_flag("--no-api", no_api, "do not start the REST API");
  app.add_option("--exception-tap", options.exception_iface,
                 "create this kernel interface as the exception path (uplink address, MAC; health checks use it)");
  app.add_option("--health-bind-device", options.health_bind_device,
                 "send health checks through this interface (SO_BINDTODEVICE)");
  try {
    // CLI11 expects the program name first; after EAL, argv[0] is the last EAL token ("--").
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    rte_eal_cleanup();
    return rc == 0 ? 0 : 2;
  }

  options.api_enabled = !no_api;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::getline(in, options.api.bearer_token);
    if (options.api.bearer_token.empty()) {
      std::fprintf(stderr, "tetherd: %s: empty token file\n", token_file.c_str());
      rte_eal_cleanup();
      return 2;
    }
  }

  auto config = lb::controlplane::loadConfigFile(options.config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "tetherd: %s: %s\n", options.config_path.c_str(),
                 std::string(config.status().message()).c_str());
    rte_eal_cleanup();
    return 2;
  }
  int rc = 1;
  {
    auto daemon = lb::controlplane::Daemon::create(*std::move(config), options);
    if (!daemon.ok()) {
      std::fprintf(stderr, "tetherd: %s\n", std::string(daemon.status().message()).c_str());
      rte_eal_cleanup();
      return 2;
    }
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    std::signal(SIGHUP, onSignal);
    rc = (*daemon)->run();
  }
  rte_eal_cleanup();
  return rc;
}

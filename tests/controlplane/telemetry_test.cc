// Tests for controlplane/telemetry.h through DPDK's real telemetry socket: main() starts EAL (lcore 0
// only, no hugepages, no PCI, a file prefix unique to this process) with telemetry on; each test sends
// a command over dpdk_telemetry.v2 the way usertools/dpdk-telemetry.py does and parses the JSON reply.
// An EAL that will not start fails the binary; it is never turned into a skip.
#include "controlplane/telemetry.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_telemetry.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dataplane/lcore_counters.h"

namespace lb::controlplane {
namespace {

// Sends one command, returns the parsed reply (the value under the command's name).
nlohmann::json query(const std::string& command) {
  const std::string path = std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2";
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "connect " << path << ": " << std::strerror(errno);
    close(fd);
    return nullptr;
  }
  std::vector<char> buf(1 << 17);
  const ssize_t hello = read(fd, buf.data(), buf.size());  // {"version": ..., "pid": ..., ...}
  EXPECT_GT(hello, 0);
  EXPECT_EQ(write(fd, command.data(), command.size()), static_cast<ssize_t>(command.size()));
  const ssize_t n = read(fd, buf.data(), buf.size());
  close(fd);
  if (n <= 0) {
    ADD_FAILURE() << "no reply to " << command;
    return nullptr;
  }
  const nlohmann::json reply = nlohmann::json::parse(std::string(buf.data(), static_cast<size_t>(n)), nullptr, false);
  EXPECT_FALSE(reply.is_discarded()) << std::string(buf.data(), static_cast<size_t>(n));
  const std::string name = command.substr(0, command.find(','));
  EXPECT_TRUE(reply.contains(name)) << reply.dump();
  return reply.value(name, nlohmann::json());
}

// A command that converts whatever document the test put here (the conversion under test).
nlohmann::json g_echo_doc;
absl::Status g_echo_status;
int echoCommand(const char*, const char*, rte_tel_data* d) {
  g_echo_status = jsonToTelData(g_echo_doc, d);
  return 0;
}

class TelemetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const unsigned lcores[] = {2, 5};
    for (int w = 0; w < 2; ++w) {
      counters_.push_back(std::make_unique<dataplane::LcoreCounters>());
      dataplane::LcoreCounters& c = *counters_.back();
      c.rx_packets.add(100 * (w + 1));
      c.rx_bytes.add(6400 * (w + 1));
      c.tx_packets.add(90 * (w + 1));
      c.flows_active.store(7 + w);
      c.drops[static_cast<size_t>(dataplane::DropReason::kNoBackend)].add(3 + w);
      sources_.workers.push_back({lcores[w], &c});
    }
    sources_.flow_entries_per_lcore = 1024;
    sources_.stats = [] {
      return nlohmann::json{
          {"generation", 4},
          {"publishes", 5},
          {"last_publish_us", 250},
          {"uptime_s", 1.5},
          {"proxy", {{"syn_cookies_sent", 9}, {"rebinds", {{"target_down", 2}}}}},
          {"sessions", {{"occupied", 3}, {"capacity", 1024}}},
          {"services",
           {{{"name", "web"},
             {"backends",
              {{{"address", "10.0.0.1"}, {"port", 80}, {"weight", 2}, {"new_flows", 11}, {"packets", 12}, {"bytes", 13}},
               {{"address", "10.0.0.2"}, {"port", 80}, {"weight", 1}, {"new_flows", 0}, {"packets", 0}, {"bytes", 0}}}}},
            {{"name", "dns-v2"}, {"backends", nlohmann::json::array()}}}}};
    };
    sources_.health = [] {
      return std::vector<BackendHealth>{
          {"web", 0x0a000001, 80, HealthState::kUp, 1, ""},
          {"web", 0x0a000002, 80, HealthState::kDown, 2, "connect: Connection refused"}};
    };
    ASSERT_TRUE(registerTelemetry(sources_).ok());
  }
  void TearDown() override { unregisterTelemetry(); }

  std::vector<std::unique_ptr<dataplane::LcoreCounters>> counters_;
  TelemetrySources sources_;
};

// JSON -> rte_tel_data: objects nest, integers keep their type, doubles become decimal strings,
// arrays of scalars stay arrays, arrays of objects become dicts keyed by index.
TEST_F(TelemetryTest, ConvertsJsonDocuments) {
  g_echo_doc = {{"u", uint64_t{18446744073709551615u}},
                {"neg", -5},
                {"big_neg", int64_t{-10000000000}},
                {"flag", true},
                {"ratio", 0.25},
                {"text", "hello"},
                {"nested", {{"deeper", {{"x", 1}}}}},
                {"counts", {1, 2, 3}},
                {"mixed", {-1, 2}},
                {"names", {"a", "b"}},
                {"rows", {{{"id", 1}}, {{"id", 2}}}},
                {"odd-key:1.2", "he said \"hi\" \\ ok"}};
  const nlohmann::json got = query("/tether_test/echo");
  EXPECT_TRUE(g_echo_status.ok()) << g_echo_status;
  const nlohmann::json want = {{"u", uint64_t{18446744073709551615u}},
                               {"neg", -5},
                               {"big_neg", "-10000000000"},
                               {"flag", 1},
                               {"ratio", "0.25"},
                               {"text", "hello"},
                               {"nested", {{"deeper", {{"x", 1}}}}},
                               {"counts", {1, 2, 3}},
                               {"mixed", {-1, 2}},
                               {"names", {"a", "b"}},
                               {"rows", {{"0", {{"id", 1}}}, {"1", {{"id", 2}}}}},
                               {"odd_key_1_2", "he said \"hi\" \\ ok"}};
  EXPECT_EQ(got, want) << got.dump();
}

// A dict over DPDK's 256-entry limit is cut, and the conversion says so.
TEST_F(TelemetryTest, OversizedDictIsReportedAndCut) {
  g_echo_doc = nlohmann::json::object();
  for (int i = 0; i < 300; ++i) g_echo_doc[absl::StrCat("k", 1000 + i)] = i;
  const nlohmann::json got = query("/tether_test/echo");
  EXPECT_EQ(g_echo_status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(got.size(), 256u);
}

// /tether/stats sums the workers and adds the control plane's numbers.
TEST_F(TelemetryTest, StatsCommandSumsWorkers) {
  const nlohmann::json got = query("/tether/stats");
  EXPECT_EQ(got["workers"], 2);
  EXPECT_EQ(got["rx_packets"], 300);
  EXPECT_EQ(got["rx_bytes"], 19200);
  EXPECT_EQ(got["tx_packets"], 270);
  EXPECT_EQ(got["flows_active"], 15);
  EXPECT_EQ(got["flow_table_capacity"], 2048);
  EXPECT_EQ(got["drops"]["no_backend"], 7);
  EXPECT_EQ(got["drops"]["malformed"], 0);
  EXPECT_EQ(got["generation"], 4);
  EXPECT_EQ(got["uptime_s"], "1.5");
  // HTTP proxy totals and the session table come from the stats document.
  EXPECT_EQ(got["proxy"]["syn_cookies_sent"], 9);
  EXPECT_EQ(got["proxy"]["rebinds"]["target_down"], 2);
  EXPECT_EQ(got["sessions"]["occupied"], 3);
  EXPECT_EQ(got["sessions"]["capacity"], 1024);
}

// /tether/lcores lists workers by lcore id; a parameter picks one; an unknown id answers null.
TEST_F(TelemetryTest, LcoresCommand) {
  const nlohmann::json all = query("/tether/lcores");
  ASSERT_TRUE(all.contains("2") && all.contains("5")) << all.dump();
  EXPECT_EQ(all["5"]["rx_packets"], 200);
  EXPECT_EQ(all["5"]["drops"]["no_backend"], 4);
  const nlohmann::json one = query("/tether/lcores,2");
  EXPECT_EQ(one["rx_packets"], 100);
  EXPECT_TRUE(query("/tether/lcores,9").is_null());
}

// /tether/backends summarises per service; with a service it lists backends with health and counters,
// keyed by position in config order (telemetry refuses '.', ':' and '-' in names).
TEST_F(TelemetryTest, BackendsCommand) {
  const nlohmann::json summary = query("/tether/backends");
  EXPECT_EQ(summary["0"],
            (nlohmann::json{{"service", "web"}, {"backends", 2}, {"up", 1}, {"down", 1}, {"unknown", 0}}));
  EXPECT_EQ(summary["1"]["service"], "dns-v2");
  EXPECT_EQ(summary["1"]["backends"], 0);
  const nlohmann::json web = query("/tether/backends,web");
  EXPECT_EQ(web["0"]["address"], "10.0.0.1");
  EXPECT_EQ(web["0"]["port"], 80);
  EXPECT_EQ(web["0"]["state"], "up");
  EXPECT_EQ(web["0"]["new_flows"], 11);
  EXPECT_EQ(web["1"]["address"], "10.0.0.2");
  EXPECT_EQ(web["1"]["state"], "down");
  EXPECT_EQ(web["1"]["transitions"], 2);
  EXPECT_EQ(web["1"]["last_error"], "connect: Connection refused");
  EXPECT_TRUE(query("/tether/backends,dns-v2").is_object());
  EXPECT_TRUE(query("/tether/backends,nope").is_null());
}

// After unregisterTelemetry the commands answer null instead of reading freed counters.
TEST_F(TelemetryTest, UnregisteredCommandsAnswerNull) {
  unregisterTelemetry();
  EXPECT_TRUE(query("/tether/stats").is_null());
}

}  // namespace
}  // namespace lb::controlplane

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const std::string prefix = "tether-teltest-" + std::to_string(getpid());
  std::vector<std::string> args = {"telemetry_test", "-l", "0", "--no-huge", "-m", "64", "--no-pci",
                                   "--log-level=*:error", "--file-prefix", prefix};
  std::vector<char*> eal_argv;
  for (std::string& a : args) eal_argv.push_back(a.data());
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "FATAL: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  if (rte_telemetry_register_cmd("/tether_test/echo", lb::controlplane::echoCommand, "test") != 0) {
    std::fprintf(stderr, "FATAL: cannot register /tether_test/echo\n");
    return 1;
  }
  const int result = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return result;
}

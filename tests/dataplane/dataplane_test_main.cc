// Test main for the tests that need the EAL (mbufs, rings, rte_malloc): initialises it without
// hugepages, PCI devices, shared config or telemetry, on lcore 0 only, with a file prefix unique to
// this process so parallel test runs never share runtime state. An EAL that will not start fails the
// whole binary; it is never turned into a skip, because a silently skipped packet suite looks green.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/dataplane/worker_harness.h"

namespace {

constexpr unsigned kPoolMbufs = 8191;

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);

  const std::string prefix = "tether-dptest-" + std::to_string(getpid());
  std::vector<std::string> args = {
      "dataplane_test", "-l", "0", "--no-huge", "-m", "256", "--no-shconf", "--no-pci",
      "--no-telemetry", "--log-level=*:error", "--file-prefix", prefix,
  };
  std::vector<char*> eal_argv;
  for (std::string& a : args) eal_argv.push_back(a.data());
  eal_argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "FATAL: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("dptest_pool", kPoolMbufs, /*cache_size=*/0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (pool == nullptr) {
    std::fprintf(stderr, "FATAL: rte_pktmbuf_pool_create failed: %s\n", rte_strerror(rte_errno));
    rte_eal_cleanup();
    return 1;
  }
  lb::dataplane::test::setTestPool(pool);
  const int result = RUN_ALL_TESTS();
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return result;
}

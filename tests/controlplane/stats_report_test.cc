// statsJson's worker part: each lcore's object and the totals, which must sum the same values.
#include "controlplane/stats_report.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace lb::controlplane {
namespace {

using dataplane::DropReason;
using dataplane::LcoreCounters;

class StatsReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const unsigned lcores[] = {1, 3};
    for (uint64_t w = 0; w < 2; ++w) {
      counters_.push_back(std::make_unique<LcoreCounters>());
      LcoreCounters& c = *counters_.back();
      c.rx_packets.add(1000 * (w + 1));
      c.rx_bytes.add(64000 * (w + 1));
      c.tx_packets.add(900 * (w + 1));
      c.tx_bytes.add(57600 * (w + 1));
      c.flows_created.add(10 + w);
      c.flows_expired.add(4 + w);
      c.flows_reset.add(w);
      c.flows_active.store(6 + w);
      c.icmp_to_backend.add(2 * w + 1);
      c.fragments_out.add(5);
      c.drops[static_cast<size_t>(DropReason::kMalformed)].add(3 + w);
      c.drops[static_cast<size_t>(DropReason::kNoBackend)].add(w);
      workers_.push_back({lcores[w], &c});
    }
  }

  nlohmann::json stats() const { return statsJson(workers_, config_, slots_, ControlStats{}, SessionTableStats{}); }

  std::vector<std::unique_ptr<LcoreCounters>> counters_;
  std::vector<WorkerCounters> workers_;
  Config config_;
  CounterSlots slots_{16};
};

TEST_F(StatsReportTest, EachLcoreReportsItsOwnCounters) {
  const nlohmann::json doc = stats();
  ASSERT_EQ(doc["lcores"].size(), 2u);
  const nlohmann::json& second = doc["lcores"][1];
  EXPECT_EQ(second["lcore"], 3);
  EXPECT_EQ(second["rx_packets"], 2000);
  EXPECT_EQ(second["tx_bytes"], 115200);
  EXPECT_EQ(second["flows_reset"], 1);
  EXPECT_EQ(second["flows_active"], 7);
  EXPECT_EQ(second["icmp_to_backend"], 3);
  EXPECT_EQ(second["fragments_out"], 5);
  EXPECT_EQ(second["drops"]["malformed"], 4);
  EXPECT_EQ(second["drops"]["no_backend"], 1);
  EXPECT_EQ(second["drops"].size(), dataplane::kDropReasonCount);
  EXPECT_TRUE(second.contains("proxy"));
  EXPECT_EQ(doc["lcores"][0]["lcore"], 1);
  EXPECT_EQ(doc["lcores"][0]["icmp_to_backend"], 1);
}

TEST_F(StatsReportTest, TotalsSumTheLcores) {
  const nlohmann::json doc = stats();
  const nlohmann::json& totals = doc["totals"];
  EXPECT_EQ(totals["rx_packets"], 3000);
  EXPECT_EQ(totals["rx_bytes"], 192000);
  EXPECT_EQ(totals["tx_packets"], 2700);
  EXPECT_EQ(totals["tx_bytes"], 172800);
  EXPECT_EQ(totals["flows_created"], 21);
  EXPECT_EQ(totals["flows_expired"], 9);
  EXPECT_EQ(totals["drops"]["malformed"], 7);
  EXPECT_EQ(totals["drops"]["no_backend"], 1);
  EXPECT_EQ(totals["drops"]["flow_table_full"], 0);
  EXPECT_EQ(doc["flows_active"], 13);  // at the top of the document, not in totals
  EXPECT_FALSE(totals.contains("flows_active"));
}

TEST_F(StatsReportTest, NoWorkersGiveZeroTotals) {
  workers_.clear();
  const nlohmann::json doc = stats();
  EXPECT_TRUE(doc["lcores"].empty());
  EXPECT_EQ(doc["totals"]["rx_packets"], 0);
  EXPECT_EQ(doc["totals"]["drops"]["malformed"], 0);
  EXPECT_EQ(doc["flows_active"], 0);
}

}  // namespace
}  // namespace lb::controlplane

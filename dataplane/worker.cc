#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dataplane/packet_path.h"
#include "dataplane/packet_processor.h"

namespace lb::dataplane {
namespace {

// Expiry runs every kExpireEveryLoops iterations over kExpireSliceEntries entries: at a few million
// loops per second that sweeps a 64K-entry table many times per second at negligible cost per loop.
constexpr uint32_t kExpireEveryLoops = 64;
constexpr uint32_t kExpireSliceEntries = 64;

void flushTx(const WorkerConfig& cfg) {
  WorkerContext& ctx = *cfg.ctx;
  for (uint16_t port = 0; port < cfg.port_count; ++port) {
    TxBatch& batch = ctx.tx[port];
    if (batch.count == 0) continue;
    uint64_t bytes = batch.bytes;
    const uint16_t sent = rte_eth_tx_burst(port, cfg.tx_queue, batch.packets.data(), batch.count);
    if (sent < batch.count) [[unlikely]] {
      for (uint16_t i = sent; i < batch.count; ++i) bytes -= rte_pktmbuf_pkt_len(batch.packets[i]);
      rte_pktmbuf_free_bulk(&batch.packets[sent], batch.count - sent);  // one mempool put, not one per mbuf
    }
    ctx.counters->tx_packets.add(sent);
    ctx.counters->tx_bytes.add(bytes);
    ctx.counters->drops[static_cast<size_t>(DropReason::kTxFull)].add(batch.count - sent);
    batch.count = 0;
    batch.bytes = 0;
  }
}

void sendInjected(const WorkerConfig& cfg, uint16_t burst) {
  std::array<rte_mbuf*, kMaxBurst> frames;
  const unsigned n = rte_ring_dequeue_burst(cfg.inject, reinterpret_cast<void**>(frames.data()), burst, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    queueTx(*cfg.ctx, frames[i], frames[i]->port);
  }
}

}  // namespace

int runWorker(void* arg) {
  const WorkerConfig& cfg = *static_cast<const WorkerConfig*>(arg);
  WorkerContext& ctx = *cfg.ctx;
  const uint16_t burst = cfg.burst_size;
  std::array<rte_mbuf*, kMaxBurst> packets;
  uint64_t loops = 0;
  // Busy time is whole loops that moved packets: what a CPU-per-request comparison must count,
  // while the loops that found every queue empty (a poll-mode worker's idle spinning) are left out.
  // A busy loop ends where the next one reads the clock, so the loop needs no second rdtsc.
  uint64_t busy_since = 0;
  bool was_busy = false;

  rte_rcu_qsbr_thread_register(cfg.qsbr, ctx.worker_index);
  rte_rcu_qsbr_thread_online(cfg.qsbr, ctx.worker_index);

  while (!cfg.stop->load(std::memory_order_relaxed)) {
    const Snapshot* snap = cfg.published->load(std::memory_order_acquire);
    const uint64_t now = rte_rdtsc();
    if (was_busy) ctx.counters->proxy.busy_tsc.add(now - busy_since);
    bool had_packets = false;

    if (cfg.inject != nullptr && !rte_ring_empty(cfg.inject)) {
      sendInjected(cfg, burst);
      flushTx(cfg);
    }
    if (ctx.handoff_in != nullptr) {
      const unsigned n = rte_ring_dequeue_burst(ctx.handoff_in, reinterpret_cast<void**>(packets.data()),
                                                burst, nullptr);
      for (unsigned i = 0; i < n; ++i) {
        // Hand-offs arrive one at a time with their rx port in mbuf->port (handOffToOwner).
        ctx.counters->handoff_in.inc();
        processBurst(ctx, *snap, packets[i]->port, &packets[i], 1, now, nullptr);
      }
      if (n != 0) {
        ctx.counters->proxy.process_tsc.add(rte_rdtsc() - now);
        flushTx(cfg);
        had_packets = true;
      }
    }
    for (uint16_t q = 0; q < cfg.rx_count; ++q) {
      const RxQueueRef rx = cfg.rx[q];
      const uint16_t n = rte_eth_rx_burst(rx.port, rx.queue, packets.data(), burst);
      if (n == 0) continue;
      const uint64_t burst_start = rte_rdtsc();
      processBurst(ctx, *snap, rx.port, packets.data(), n, now, nullptr);
      ctx.counters->proxy.process_tsc.add(rte_rdtsc() - burst_start);
      flushTx(cfg);
      had_packets = true;
    }
    if (ctx.proxy != nullptr && ctx.proxy->pendingCount() != 0) {
      // Delayed-binding timers (head timeout, SYN retransmission): a bounded slice of the pending
      // pool per loop; whatever it queued (SYNs, RSTs) leaves now. Not called while nothing is
      // pending (no HTTP service, or none binding): the call alone cost ~1 instruction per packet.
      if (ctx.proxy->poll(ctx, *snap, now)) flushTx(cfg);
    }
    if (++loops % kExpireEveryLoops == 0) {
      const uint32_t expired = ctx.flows.expireSlice(now, snap->timeouts, kExpireSliceEntries,
                                                     [&ctx](const FlowEntry& e) {
                                                       if (e.proxy_phase == ProxyPhase::kBinding && ctx.proxy) {
                                                         ctx.proxy->abandon(ctx, e);
                                                       }
                                                       ctx.releaseLocalEndpoint(e);
                                                     });
      ctx.counters->flows_expired.add(expired);
      if (ctx.fragments != nullptr) {
        ctx.counters->drops[static_cast<size_t>(DropReason::kReassemblyFailed)].add(ctx.fragments->expire(now));
      }
      ctx.counters->flows_active.store(ctx.flows.size(), std::memory_order_relaxed);
    }
    was_busy = had_packets;
    busy_since = now;
    rte_rcu_qsbr_quiescent(cfg.qsbr, ctx.worker_index);
  }
  rte_rcu_qsbr_thread_offline(cfg.qsbr, ctx.worker_index);
  rte_rcu_qsbr_thread_unregister(cfg.qsbr, ctx.worker_index);
  return 0;
}

}  // namespace lb::dataplane

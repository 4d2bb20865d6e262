#include "controlplane/prometheus_metrics.h"

#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include "controlplane/address.h"

namespace lb::controlplane {
namespace {

using dataplane::kDropReasonCount;
using dataplane::kDropReasonNames;
using dataplane::LcoreCounters;

using Label = std::pair<std::string_view, std::string_view>;

// Appends one family at a time; the caller emits every sample of a family before the next family.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof(buf), value).ptr;
    line(name, labels, std::string_view(buf, static_cast<size_t>(end - buf)));
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    if (std::isnan(value)) return line(name, labels, "NaN");
    if (std::isinf(value)) return line(name, labels, value > 0 ? "+Inf" : "-Inf");
    char buf[32];
    const auto end = std::to_chars(buf, buf + sizeof(buf), value).ptr;  // shortest round-trip form
    line(name, labels, std::string_view(buf, static_cast<size_t>(end - buf)));
  }

  std::string take() { return std::move(out_); }

 private:
  void line(std::string_view name, std::initializer_list<Label> labels, std::string_view value) {
    out_ += name;
    char sep = '{';
    for (const Label& l : labels) {
      out_ += sep;
      out_ += l.first;
      out_ += "=\"";
      out_ += escapeLabelValue(l.second);
      out_ += '"';
      sep = ',';
    }
    if (labels.size() > 0) out_ += '}';
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string out_;
};

struct LcoreRow {
  std::string lcore;
  const LcoreCounters* c;
};

// A per-lcore family: one sample per worker, value read by `get`.
template <class Get>
void lcoreFamily(Exposition& e, const std::vector<LcoreRow>& rows, std::string_view name,
                 std::string_view type, std::string_view help, Get get) {
  e.family(name, type, help);
  for (const LcoreRow& r : rows) e.sample(name, {{"lcore", r.lcore}}, static_cast<uint64_t>(get(*r.c)));
}

struct BackendRow {
  std::string_view service;
  std::string backend;  // "a.b.c.d:port"
  const BackendConfig* config;
  uint64_t new_flows = 0, packets = 0, bytes = 0, reply_packets = 0, reply_bytes = 0;
  HealthState state = HealthState::kUnknown;
  uint64_t transitions = 0;
};

std::string_view adminStateName(BackendAdminState s) {
  switch (s) {
    case BackendAdminState::kDraining: return "draining";
    case BackendAdminState::kDisabled: return "disabled";
    case BackendAdminState::kEnabled: break;
  }
  return "enabled";
}

std::string_view healthName(HealthState s) {
  switch (s) {
    case HealthState::kUp: return "up";
    case HealthState::kDown: return "down";
    case HealthState::kUnknown: break;
  }
  return "unknown";
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string renderMetrics(const std::vector<WorkerCounters>& workers, const Config& config,
                          const CounterSlots& slots, const ControlStats& control,
                          const std::vector<BackendHealth>& health,
                          const SessionTableStats& sessions) {
  Exposition e;
  std::vector<LcoreRow> lcores;
  lcores.reserve(workers.size());
  for (const WorkerCounters& w : workers) lcores.push_back({std::to_string(w.lcore_id), w.counters});

  lcoreFamily(e, lcores, "tether_rx_packets_total", "counter", "Packets received by the worker.",
              [](const LcoreCounters& c) { return c.rx_packets.read(); });
  lcoreFamily(e, lcores, "tether_rx_bytes_total", "counter", "Bytes received by the worker (frame length).",
              [](const LcoreCounters& c) { return c.rx_bytes.read(); });
  lcoreFamily(e, lcores, "tether_tx_packets_total", "counter", "Packets transmitted by the worker.",
              [](const LcoreCounters& c) { return c.tx_packets.read(); });
  lcoreFamily(e, lcores, "tether_tx_bytes_total", "counter", "Bytes transmitted by the worker (frame length).",
              [](const LcoreCounters& c) { return c.tx_bytes.read(); });

  e.family("tether_dropped_packets_total", "counter",
           "Packets the worker freed without forwarding or answering, by reason.");
  for (const LcoreRow& r : lcores) {
    for (size_t i = 0; i < kDropReasonCount; ++i) {
      e.sample("tether_dropped_packets_total", {{"lcore", r.lcore}, {"reason", kDropReasonNames[i]}},
               r.c->drops[i].read());
    }
  }

  lcoreFamily(e, lcores, "tether_arp_replies_total", "counter", "ARP requests answered by the worker.",
              [](const LcoreCounters& c) { return c.arp_replies.read(); });
  lcoreFamily(e, lcores, "tether_icmp_replies_total", "counter", "ICMP echo requests answered by the worker.",
              [](const LcoreCounters& c) { return c.icmp_replies.read(); });
  lcoreFamily(e, lcores, "tether_nd_replies_total", "counter",
              "IPv6 neighbour solicitations answered by the worker.",
              [](const LcoreCounters& c) { return c.nd_replies.read(); });
  lcoreFamily(e, lcores, "tether_icmp_too_big_total", "counter",
              "Packets over the egress MTU answered with ICMP fragmentation needed (ICMPv6 packet too big for IPv6 clients).",
              [](const LcoreCounters& c) { return c.icmp_too_big.read(); });
  lcoreFamily(e, lcores, "tether_icmp_relayed_total", "counter",
              "ICMP errors about full-NAT flows' packets, translated and passed on to their clients.",
              [](const LcoreCounters& c) { return c.icmp_relayed.read(); });
  lcoreFamily(e, lcores, "tether_icmp_to_backend_total", "counter",
              "ICMP errors sent to a VIP about a flow's reply (a client-side router's fragmentation "
              "needed), passed on to the flow's backend.",
              [](const LcoreCounters& c) { return c.icmp_to_backend.read(); });

  e.family("tether_handoff_packets_total", "counter",
           "Full-NAT replies passed to (out) or received from (in) the lcore owning the flow.");
  for (const LcoreRow& r : lcores) {
    e.sample("tether_handoff_packets_total", {{"lcore", r.lcore}, {"direction", "out"}}, r.c->handoff_out.read());
    e.sample("tether_handoff_packets_total", {{"lcore", r.lcore}, {"direction", "in"}}, r.c->handoff_in.read());
  }

  lcoreFamily(e, lcores, "tether_fragments_received_total", "counter",
              "IPv4 fragments to a VIP or local address taken for reassembly.",
              [](const LcoreCounters& c) { return c.fragments_in.read(); });
  lcoreFamily(e, lcores, "tether_datagrams_reassembled_total", "counter",
              "IPv4 datagrams put together from fragments and then forwarded like any packet.",
              [](const LcoreCounters& c) { return c.datagrams_reassembled.read(); });
  lcoreFamily(e, lcores, "tether_fragments_sent_total", "counter",
              "Fragments made of packets over their egress port's MTU (reassembled datagrams, IPIP).",
              [](const LcoreCounters& c) { return c.fragments_out.read(); });
  lcoreFamily(e, lcores, "tether_established_path_packets_total", "counter",
              "Packets of armed flows forwarded from their flow entry without classification.",
              [](const LcoreCounters& c) { return c.established_path.read(); });
  lcoreFamily(e, lcores, "tether_flows_created_total", "counter", "Flow table entries created.",
              [](const LcoreCounters& c) { return c.flows_created.read(); });
  lcoreFamily(e, lcores, "tether_flows_expired_total", "counter", "Flow table entries expired.",
              [](const LcoreCounters& c) { return c.flows_expired.read(); });
  lcoreFamily(e, lcores, "tether_flows_active", "gauge", "Flow table entries in use.",
              [](const LcoreCounters& c) { return c.flows_active.load(std::memory_order_relaxed); });
  const uint64_t capacity = config.dataplane.flow_entries_per_lcore;
  lcoreFamily(e, lcores, "tether_flow_table_capacity", "gauge", "Flow table size in entries.",
              [capacity](const LcoreCounters&) { return capacity; });

  // HTTP services: delayed binding and splice, per lcore.
  for (const ProxyCounterField& f : kProxyCounterFields) {
    const std::string name = "tether_proxy_" + std::string(f.name) + "_total";
    e.family(name, "counter", f.help);
    for (const LcoreRow& r : lcores) e.sample(name, {{"lcore", r.lcore}}, (r.c->proxy.*f.field).read());
  }
  e.family("tether_sticky_chosen_total", "counter",
           "Connections bound to a backend, by the sticky method that chose it.");
  for (const LcoreRow& r : lcores) {
    for (uint32_t m = 0; m < dataplane::kStickyMethodCount; ++m) {
      e.sample("tether_sticky_chosen_total",
               {{"lcore", r.lcore}, {"method", stickyMethodName(static_cast<dataplane::StickyMethod>(m))}},
               r.c->proxy.chosen_by[m].read());
    }
  }
  e.family("tether_sticky_rebinds_total", "counter",
           "Requests not sent to the backend their sticky binding names, by cause.");
  for (const LcoreRow& r : lcores) {
    for (uint32_t c = 0; c < dataplane::kRebindCauseCount; ++c) {
      e.sample("tether_sticky_rebinds_total",
               {{"lcore", r.lcore}, {"cause", rebindCauseName(static_cast<dataplane::RebindCause>(c))}},
               r.c->proxy.rebinds[c].read());
    }
  }
  // Worker time counters kept in TSC cycles, exported in seconds.
  struct WorkerTime {
    const char* name;
    const char* help;
    dataplane::Counter dataplane::ProxyCounters::*field;
  };
  const WorkerTime worker_times[] = {
      {"tether_worker_busy_seconds_total",
       "Time the worker spent on bursts that had packets (idle polling excluded).",
       &dataplane::ProxyCounters::busy_tsc},
      {"tether_worker_process_seconds_total",
       "Time the worker spent processing bursts, without the port's rx/tx calls.",
       &dataplane::ProxyCounters::process_tsc}};
  for (const WorkerTime& t : worker_times) {
    e.family(t.name, "counter", t.help);
    for (const LcoreRow& r : lcores) {
      const double cycles = static_cast<double>((r.c->proxy.*t.field).read());
      e.sample(t.name, {{"lcore", r.lcore}}, control.tsc_hz == 0 ? 0.0 : cycles / static_cast<double>(control.tsc_hz));
    }
  }

  if (sessions.present) {
    e.family("tether_sessions_active", "gauge",
             "Sticky-session table entries in use (expired ones not yet reclaimed included).");
    e.sample("tether_sessions_active", {}, sessions.occupied);
    e.family("tether_sessions_capacity", "gauge", "Sessions the table holds without eviction.");
    e.sample("tether_sessions_capacity", {}, sessions.capacity);
    const dataplane::SessionStats& o = sessions.ops;
    const std::pair<std::string_view, uint64_t> ops[] = {
        {"lookups", o.lookups}, {"hits", o.hits},         {"misses", o.misses},
        {"busy", o.busy},       {"inserts", o.inserts},   {"updates", o.updates},
        {"evictions", o.evictions}, {"expirations", o.expirations}, {"deletes", o.deletes},
        {"relocations", o.relocations}};
    const std::string_view helps[] = {
        "Session look-ups by workers.",
        "Session look-ups that found a live entry.",
        "Session look-ups that found none (expired entries included).",
        "Session operations that gave up on a concurrent writer.",
        "Sessions created (after an eviction included).",
        "Sessions rebound to another backend.",
        "Sessions evicted because both buckets were full.",
        "Expired sessions reclaimed.",
        "Sessions deleted (logout, REST).",
        "Sessions moved to their other bucket by an insert.",
    };
    for (size_t i = 0; i < std::size(ops); ++i) {
      const std::string name = "tether_session_" + std::string(ops[i].first) + "_total";
      e.family(name, "counter", helps[i]);
      e.sample(name, {}, ops[i].second);
    }
  }

  // Per-backend rows, in config order; health looked up by (service, address, port).
  std::map<std::tuple<std::string_view, uint32_t, uint16_t>, const BackendHealth*> health_by_key;
  for (const BackendHealth& h : health) health_by_key.emplace(std::tuple{std::string_view(h.service), h.address, h.port}, &h);
  std::vector<BackendRow> backends;
  for (const ServiceConfig& s : config.services) {
    for (const BackendConfig& b : s.backends) {
      BackendRow row{s.name, formatIpv4(b.address) + ":" + std::to_string(b.port), &b};
      auto slot = slots.slots().find(BackendKey{s.name, b.address, b.port});
      if (slot != slots.slots().end()) {
        for (const WorkerCounters& w : workers) {
          const dataplane::BackendCounters& bc = w.counters->backends[slot->second];
          row.new_flows += bc.new_flows.read();
          row.packets += bc.to_backend.packets.read();
          row.bytes += bc.to_backend.bytes.read();
          const dataplane::TrafficCounters& replies = w.counters->backend_replies[slot->second];
          row.reply_packets += replies.packets.read();
          row.reply_bytes += replies.bytes.read();
        }
      }
      auto h = health_by_key.find(std::tuple{std::string_view(s.name), b.address, b.port});
      if (h != health_by_key.end()) {
        row.state = h->second->state;
        row.transitions = h->second->transitions;
      }
      backends.push_back(std::move(row));
    }
  }
  auto backendFamily = [&](std::string_view name, std::string_view type, std::string_view help, auto get) {
    e.family(name, type, help);
    for (const BackendRow& r : backends) {
      e.sample(name, {{"service", r.service}, {"backend", r.backend}}, static_cast<uint64_t>(get(r)));
    }
  };
  backendFamily("tether_backend_new_flows_total", "counter", "Flows assigned to the backend.",
                [](const BackendRow& r) { return r.new_flows; });
  backendFamily("tether_backend_packets_total", "counter", "Packets forwarded to the backend.",
                [](const BackendRow& r) { return r.packets; });
  backendFamily("tether_backend_bytes_total", "counter", "Bytes forwarded to the backend (frame length).",
                [](const BackendRow& r) { return r.bytes; });
  backendFamily("tether_backend_reply_packets_total", "counter",
                "Full-NAT replies from the backend, forwarded to clients.",
                [](const BackendRow& r) { return r.reply_packets; });
  backendFamily("tether_backend_reply_bytes_total", "counter",
                "Bytes of full-NAT replies from the backend (frame length as received).",
                [](const BackendRow& r) { return r.reply_bytes; });
  backendFamily("tether_backend_weight", "gauge", "Configured weight (0 takes no new flows).",
                [](const BackendRow& r) { return r.config->weight; });

  constexpr std::array kAdminStates = {BackendAdminState::kEnabled, BackendAdminState::kDraining,
                                       BackendAdminState::kDisabled};
  e.family("tether_backend_admin_state", "gauge", "Operator state of the backend: 1 on the current state.");
  for (const BackendRow& r : backends) {
    for (BackendAdminState s : kAdminStates) {
      e.sample("tether_backend_admin_state",
               {{"service", r.service}, {"backend", r.backend}, {"state", adminStateName(s)}},
               uint64_t{r.config->state == s});
    }
  }
  constexpr std::array kHealthStates = {HealthState::kUnknown, HealthState::kUp, HealthState::kDown};
  e.family("tether_backend_health_state", "gauge",
           "Health check verdict: 1 on the current state. Unknown and up take new flows, down does not.");
  for (const BackendRow& r : backends) {
    for (HealthState s : kHealthStates) {
      e.sample("tether_backend_health_state",
               {{"service", r.service}, {"backend", r.backend}, {"state", healthName(s)}},
               uint64_t{r.state == s});
    }
  }
  backendFamily("tether_backend_health_transitions_total", "counter", "Changes of the health check verdict.",
                [](const BackendRow& r) { return r.transitions; });

  e.family("tether_table_publishes_total", "counter", "Snapshots published to the workers.");
  e.sample("tether_table_publishes_total", {}, control.publishes);
  e.family("tether_table_generation", "gauge", "Generation number of the live snapshot.");
  e.sample("tether_table_generation", {}, control.generation);
  e.family("tether_table_last_publish_duration_seconds", "gauge",
           "Time the last publish took, from pointer store to the old snapshot's release.");
  e.sample("tether_table_last_publish_duration_seconds", {}, static_cast<double>(control.last_publish_us) / 1e6);
  e.family("tether_uptime_seconds", "gauge", "Time since the control plane started.");
  e.sample("tether_uptime_seconds", {}, control.uptime_s);
  return e.take();
}

}  // namespace lb::controlplane

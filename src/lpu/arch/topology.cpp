#include "lpu/arch/topology.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numbers>

#include "core/error.h"

namespace lockstep::lpu {
namespace {

// ceil(x) for a value computed in floating point that may sit a hair above a whole number.
std::int64_t ceil_cycles(double x) { return static_cast<std::int64_t>(std::ceil(x - 1e-9)); }

}  // namespace

Topology::Topology(const SystemTopology &topology, double clock_hz)
    : t_(topology),
      clock_hz_(clock_hz),
      link_bytes_per_cycle_(topology.link_bytes_per_cycle(clock_hz)) {}

Topology::Topology(const SystemConfig &system) : Topology(system.topology, system.chip.clock_hz) {}

void Topology::check_chip(int chip) const {
  if (chip < 0 || chip >= physical_chips())
    fail("chip {} is not in the system (chips 0..{})", chip, physical_chips() - 1);
}

ChipPlace Topology::place(int chip) const {
  check_chip(chip);
  const int node = chip / t_.chips_per_node;
  return {node / t_.nodes_per_rack, node % t_.nodes_per_rack, chip % t_.chips_per_node};
}

int Topology::chip_id(const ChipPlace &p) const {
  if (p.rack < 0 || p.rack >= t_.racks || p.node < 0 || p.node >= t_.nodes_per_rack || p.chip < 0 ||
      p.chip >= t_.chips_per_node)
    fail("no chip at rack {}, node {}, chip {} (the system has {} x {} x {})", p.rack, p.node,
         p.chip, t_.racks, t_.nodes_per_rack, t_.chips_per_node);
  return (p.rack * t_.nodes_per_rack + p.node) * t_.chips_per_node + p.chip;
}

int Topology::domain(int chip) const {
  check_chip(chip);
  if (t_.sync_domain_chips >= physical_chips()) return 0;
  const int racks_per_domain = std::max(1, t_.sync_domain_chips / t_.chips_per_rack());
  return place(chip).rack / racks_per_domain;
}

LinkEnd Topology::peer(int chip, int link) const {
  check_chip(chip);
  if (link < 0 || link >= links_per_chip())
    fail("chip {} has no link {} (links 0..{})", chip, link, links_per_chip() - 1);
  const int cpn = t_.chips_per_node, npr = t_.nodes_per_rack, racks = t_.racks;
  const int local = t_.local_links, global = t_.global_links;
  const int k = chip % cpn, node = chip / cpn, n = node % npr, r = node / npr;
  if (link < local) {
    const int m = (k + 1 + link) % cpn;
    return {node * cpn + m, ((k - m - 1) % cpn + cpn) % cpn};
  }
  // Port `port` of node `n2` of rack `r2`.
  const auto port_end = [&](int r2, int n2, int port) {
    return LinkEnd{(r2 * npr + n2) * cpn + port / global, local + port % global};
  };
  const int p = k * global + (link - local);
  if (p < npr - 1) return port_end(r, (n + 1 + p) % npr, npr - 2 - p);
  if (racks == 1) return {};
  const int i = (p - (npr - 1)) * npr + n;  // rack port
  const int others = racks - 1;
  const int rack_ports = npr * (cpn * global - (npr - 1));
  const int copies = rack_ports / others;
  if (i >= copies * others) return {};
  const int copy = i / others, d = i % others + 1;
  const int i2 = copy * others + (others - d);  // the same copy, seen from the other rack
  return port_end((r + d) % racks, i2 % npr, i2 / npr + npr - 1);
}

std::vector<int> Topology::search(int from, int to, std::vector<Hop> *parent) const {
  std::vector<int> dist(physical_chips(), -1);
  if (parent) parent->assign(physical_chips(), Hop{});
  std::deque<int> queue{from};
  dist[from] = 0;
  const int links = links_per_chip();
  while (!queue.empty()) {
    const int c = queue.front();
    queue.pop_front();
    for (int l = 0; l < links; ++l) {
      const LinkEnd e = peer(c, l);
      if (!e.wired() || dist[e.chip] >= 0) continue;
      dist[e.chip] = dist[c] + 1;
      if (parent) (*parent)[e.chip] = Hop{c, e.chip, l, link_kind(l), domain(c) != domain(e.chip)};
      if (e.chip == to) return dist;
      queue.push_back(e.chip);
    }
  }
  return dist;
}

std::vector<Hop> Topology::route(int from, int to) const {
  check_chip(from);
  check_chip(to);
  if (from == to) return {};
  std::vector<Hop> parent;
  const std::vector<int> dist = search(from, to, &parent);
  if (dist[to] < 0) fail("chip {} cannot reach chip {}: the system is not connected", from, to);
  std::vector<Hop> path;
  for (int c = to; c != from; c = parent[c].from) path.push_back(parent[c]);
  std::reverse(path.begin(), path.end());
  return path;
}

int Topology::diameter() const {
  const int sources = t_.racks > 1 ? t_.chips_per_rack() : physical_chips();
  int longest = 0;
  for (int s = 0; s < sources; ++s)
    for (const int d : search(s, -1, nullptr)) {
      if (d < 0) fail("chip {} cannot reach every chip: the system is not connected", s);
      longest = std::max(longest, d);
    }
  return longest;
}

int Topology::hop_latency_cycles() const {
  return static_cast<int>(ceil_cycles(t_.hop_latency_ns * clock_hz_ / 1e9));
}

int Topology::ethernet_latency_cycles() const {
  return static_cast<int>(ceil_cycles(t_.ethernet_latency_ns * clock_hz_ / 1e9));
}

std::int64_t Topology::link_occupancy_cycles(std::int64_t bytes) const {
  if (bytes <= 0) return 0;
  const std::int64_t flits = (bytes + t_.flit_payload_bytes - 1) / t_.flit_payload_bytes;
  const std::int64_t wire = flits * (t_.flit_payload_bytes + t_.flit_overhead_bytes);
  return ceil_cycles(static_cast<double>(wire) / link_bytes_per_cycle_);
}

std::int64_t Topology::link_transfer_cycles(std::int64_t bytes) const {
  return link_occupancy_cycles(bytes) + t_.link_latency_cycles;
}

std::int64_t Topology::route_transfer_cycles(const std::vector<Hop> &route,
                                             std::int64_t bytes) const {
  if (route.empty()) return 0;
  const auto crossings =
      std::count_if(route.begin(), route.end(), [](const Hop &h) { return h.crosses_domain; });
  return link_transfer_cycles(bytes) +
         static_cast<std::int64_t>(route.size() - 1) * hop_latency_cycles() +
         crossings * ethernet_latency_cycles();
}

double Topology::sample_ethernet_jitter_ns(std::mt19937_64 &rng) const {
  constexpr double kUnit = 1.0 / (std::uint64_t{1} << 53);
  const double u1 = static_cast<double>((rng() >> 11) + 1) * kUnit;  // (0, 1]
  const double u2 = static_cast<double>(rng() >> 11) * kUnit;        // [0, 1)
  const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
  return t_.ethernet_jitter_median_ns * std::exp(t_.ethernet_jitter_sigma * z);
}

}  // namespace lockstep::lpu

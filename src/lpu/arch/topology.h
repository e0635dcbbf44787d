// The chips of a system and the links between them, as SystemTopology describes them
// (system_config.h), with shortest routes for chip-to-chip transfers and their timing.
//
// Chip ids are 0..physical_chips()-1, numbered rack-major: id = (rack x nodes_per_rack + node) x
// chips_per_node + chip-in-node. Active chips are 0..active_chips()-1; spare chips (cabled, held in
// reserve) are the highest ids, and routes may pass through them.
//
// Links of a chip are numbered 0..links_per_chip()-1: first its local links (0..L-1, to the other
// chips of its node), then its global links (L..L+G-1). Local link j of chip k goes to chip (k + 1
// + j) mod chips_per_node of the same node. Global link g of chip k is port p = k x G + g of its
// node; ports 0..nodes_per_rack-2 go to the other nodes of the rack (port p to node (node + 1 + p)
// mod nodes_per_rack); the remaining ports of all nodes form the rack's ports (rack port i = node
// port index x nodes_per_rack + node), which join the racks all-to-all: rack port i goes to rack
// (rack + 1 + i mod (racks-1)) mod racks, as many times over as the ports allow; the others are
// unwired. Every wired link is bidirectional (the peer's peer is itself). This is the simple
// Dragonfly FACTS.md describes (groups = racks), not Groq's exact cabling.
//
// Timing, cycles @ the chip's core clock: a transfer of B bytes is ceil(B / vector) flits of
// flit_payload_bytes + flit_overhead_bytes; it occupies a link for ceil(wire bytes / link bytes per
// cycle) cycles; its last byte arrives link_latency_cycles later. Over a route of h hops the flits
// are forwarded pipelined, so occupancy counts once; the first hop costs the link latency and every
// further hop the per-hop latency (a chip receives, deskews and re-sends); a hop that leaves its
// synchronous domain adds the Ethernet base latency (its jitter is not in these deterministic
// figures: sample_ethernet_jitter_ns draws it).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "lpu/arch/system_config.h"

namespace lockstep::lpu {

enum class LinkKind { Local, Global };

struct ChipPlace {
  int rack = 0;
  int node = 0;  // within its rack
  int chip = 0;  // within its node
  bool operator==(const ChipPlace &) const = default;
};

// One end of a link: a chip and its link index, or {-1, -1} for an unwired link.
struct LinkEnd {
  int chip = -1;
  int link = -1;
  bool wired() const { return chip >= 0; }
};

struct Hop {
  int from = 0;
  int to = 0;
  int link = 0;  // link index on `from`
  LinkKind kind = LinkKind::Local;
  bool crosses_domain = false;  // from and to are in different synchronous domains
};

class Topology {
 public:
  // `clock_hz` converts link bandwidth and ns latencies to cycles. The topology must satisfy the
  // loader's rules (system_config.h); load_system has checked them.
  Topology(const SystemTopology &topology, double clock_hz);
  explicit Topology(const SystemConfig &system);

  const SystemTopology &description() const { return t_; }
  int physical_chips() const { return t_.physical_chips(); }
  int active_chips() const { return t_.chips; }
  int links_per_chip() const { return t_.links_per_chip(); }

  ChipPlace place(int chip) const;
  int chip_id(const ChipPlace &place) const;
  // Synchronous domain of a chip: racks are grouped sync_domain_chips / chips_per_rack at a time.
  int domain(int chip) const;

  LinkKind link_kind(int link) const {
    return link < t_.local_links ? LinkKind::Local : LinkKind::Global;
  }
  // The other end of `link` of `chip`.
  LinkEnd peer(int chip, int link) const;

  // A shortest route (fewest hops) from one chip to another, deterministic: breadth-first over
  // links in index order, the first path found. Empty when from == to. Throws lockstep::Error for
  // an id out of range.
  std::vector<Hop> route(int from, int to) const;
  int hops(int from, int to) const { return static_cast<int>(route(from, to).size()); }
  // The largest hop count between any two physical chips. Racks are interchangeable (rotating rack
  // ids maps the wiring onto itself), so only the chips of rack 0 are searched from.
  int diameter() const;

  // Timing (see the header comment), cycles @ core clock.
  double link_bytes_per_cycle() const { return link_bytes_per_cycle_; }
  int hop_latency_cycles() const;
  int ethernet_latency_cycles() const;
  // Cycles a transfer of `bytes` occupies one link (flits with their overhead).
  std::int64_t link_occupancy_cycles(std::int64_t bytes) const;
  // Cycles from the first flit leaving to the last arriving over one link.
  std::int64_t link_transfer_cycles(std::int64_t bytes) const;
  // The same over a route (0 for an empty route).
  std::int64_t route_transfer_cycles(const std::vector<Hop> &route, std::int64_t bytes) const;

  // One draw of the jitter of a hop between domains, ns: log-normal with the preset's median and
  // sigma, from `rng` (Box-Muller on two 53-bit uniforms, so a seed gives the same draws on every
  // platform).
  double sample_ethernet_jitter_ns(std::mt19937_64 &rng) const;

 private:
  void check_chip(int chip) const;
  // Hop counts from `from` to every chip; fills `parent` (the hop that reached each) when given.
  std::vector<int> search(int from, int to, std::vector<Hop> *parent) const;

  SystemTopology t_;
  double clock_hz_;
  double link_bytes_per_cycle_;
};

}  // namespace lockstep::lpu

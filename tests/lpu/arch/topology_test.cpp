// System presets and the topology built from them: the presets hold FACTS.md's published numbers;
// every link is wired both ways; routes are shortest, deterministic and use links that exist;
// diameters match the published hop counts; transfer timing follows topology.h; bad files give one
// error naming the file and the key.
#include "lpu/arch/topology.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "lpu/arch/system_config.h"
#include "support/expect_error.h"
#include "support/paths.h"

namespace lockstep::lpu {
namespace {

// A topology built in code: `nodes_per_rack` x `racks` nodes of 8 chips with the preset links.
SystemTopology dragonfly(int nodes_per_rack, int racks) {
  SystemTopology t = load_system("groq-576").topology;
  t.nodes_per_rack = nodes_per_rack;
  t.racks = racks;
  t.chips = 8 * nodes_per_rack * racks;
  t.spare_chips = 0;
  return t;
}

// Hop counts from `from` by a plain breadth-first search over peer(): the reference for route().
std::vector<int> reference_distances(const Topology &topo, int from) {
  std::vector<int> dist(topo.physical_chips(), -1);
  std::deque<int> queue{from};
  dist[from] = 0;
  while (!queue.empty()) {
    const int c = queue.front();
    queue.pop_front();
    for (int l = 0; l < topo.links_per_chip(); ++l) {
      const LinkEnd e = topo.peer(c, l);
      if (e.wired() && dist[e.chip] < 0) {
        dist[e.chip] = dist[c] + 1;
        queue.push_back(e.chip);
      }
    }
  }
  return dist;
}

// The largest number of global hops between two nodes (racks are interchangeable, so from the nodes
// of rack 0): the node-level diameter, with a node as one router.
int node_diameter(const Topology &topo) {
  const SystemTopology &t = topo.description();
  const int nodes = topo.physical_chips() / t.chips_per_node;
  std::vector<std::vector<int>> next(nodes);
  for (int c = 0; c < topo.physical_chips(); ++c)
    for (int l = t.local_links; l < topo.links_per_chip(); ++l)
      if (const LinkEnd e = topo.peer(c, l); e.wired())
        next[c / t.chips_per_node].push_back(e.chip / t.chips_per_node);
  int longest = 0;
  for (int from = 0; from < t.nodes_per_rack; ++from) {
    std::vector<int> dist(nodes, -1);
    std::deque<int> queue{from};
    dist[from] = 0;
    while (!queue.empty()) {
      const int n = queue.front();
      queue.pop_front();
      for (const int m : next[n])
        if (dist[m] < 0) {
          dist[m] = dist[n] + 1;
          queue.push_back(m);
        }
    }
    longest = std::max(longest, *std::max_element(dist.begin(), dist.end()));
    EXPECT_EQ(std::count(dist.begin(), dist.end(), -1), 0);
  }
  return longest;
}

void expect_valid_route(const Topology &topo, int from, int to) {
  const std::vector<Hop> r = topo.route(from, to);
  int at = from;
  for (const Hop &h : r) {
    ASSERT_EQ(h.from, at);
    const LinkEnd e = topo.peer(h.from, h.link);
    ASSERT_TRUE(e.wired()) << "chip " << h.from << " link " << h.link;
    EXPECT_EQ(e.chip, h.to);
    EXPECT_EQ(h.kind, topo.link_kind(h.link));
    EXPECT_EQ(h.crosses_domain, topo.domain(h.from) != topo.domain(h.to));
    at = h.to;
  }
  EXPECT_EQ(at, to);
}

TEST(TopologyTest, PresetsHoldThePublishedNumbers) {
  const SystemConfig s = load_system("groq-576");
  EXPECT_EQ(s.chip_preset, "lpu-v1");
  EXPECT_DOUBLE_EQ(s.chip.clock_hz, 900e6);
  EXPECT_EQ(s.chip.sram_bytes(), load_system("lpu-v1").chip.sram_bytes());
  const SystemTopology &t = s.topology;
  EXPECT_EQ(t.chips, 576);
  EXPECT_EQ(t.spare_chips, 0);
  EXPECT_EQ(t.chips_per_rack(), 72);
  EXPECT_EQ(t.chips_per_node, 8);
  EXPECT_EQ(t.racks, 8);
  EXPECT_EQ(t.links_per_chip(), 11);
  EXPECT_EQ(t.local_links, 7);
  EXPECT_EQ(t.global_links, 4);
  EXPECT_EQ(t.lanes_per_link, 4);
  EXPECT_DOUBLE_EQ(t.lane_bits_per_s, 25e9);
  EXPECT_EQ(t.link_latency_cycles, 217);
  EXPECT_DOUBLE_EQ(t.hop_latency_ns, 722);
  EXPECT_EQ(t.flit_payload_bytes, 320);
  EXPECT_EQ(t.flit_overhead_bytes, 8);
  EXPECT_EQ(t.sync_domain_chips, 576);

  const SystemTopology node = load_system("groq-node").topology;
  EXPECT_EQ(node.chips, 8);
  EXPECT_EQ(node.physical_chips(), 8);
  const SystemTopology rack = load_system("groq-rack").topology;
  EXPECT_EQ(rack.chips, 64);  // one node of the 9 a spare
  EXPECT_EQ(rack.spare_chips, 8);
  EXPECT_EQ(rack.physical_chips(), 72);
  const SystemTopology big = load_system("groq-dragonfly-10440").topology;
  EXPECT_EQ(big.chips, 10440);
  EXPECT_EQ(big.racks, 145);

  // A chip preset is one chip.
  for (const char *chip : {"lpu-v1", "lpu-v2"}) {
    const SystemConfig c = load_system(chip);
    EXPECT_EQ(c.topology.physical_chips(), 1) << chip;
    EXPECT_TRUE(c.chip_preset.empty()) << chip;
    EXPECT_EQ(Topology(c).diameter(), 0) << chip;
  }
}

TEST(TopologyTest, PlacesAndIdsAgree) {
  const Topology topo(load_system("groq-576"));
  EXPECT_EQ(topo.physical_chips(), 576);
  for (int c = 0; c < topo.physical_chips(); ++c) EXPECT_EQ(topo.chip_id(topo.place(c)), c);
  EXPECT_EQ(topo.place(75), (ChipPlace{1, 0, 3}));
  EXPECT_EQ(topo.place(575), (ChipPlace{7, 8, 7}));
  EXPECT_THROW(topo.place(576), Error);
  EXPECT_THROW(topo.chip_id({8, 0, 0}), Error);
}

TEST(TopologyTest, EveryLinkIsWiredBothWays) {
  for (const char *name : {"groq-node", "groq-rack", "groq-576", "groq-dragonfly-10440"}) {
    SCOPED_TRACE(name);
    const Topology topo(load_system(name));
    int wired = 0;
    for (int c = 0; c < topo.physical_chips(); ++c)
      for (int l = 0; l < topo.links_per_chip(); ++l) {
        const LinkEnd e = topo.peer(c, l);
        if (!e.wired()) continue;
        ++wired;
        ASSERT_NE(e.chip, c);
        const LinkEnd back = topo.peer(e.chip, e.link);
        ASSERT_EQ(back.chip, c) << c << " link " << l;
        ASSERT_EQ(back.link, l);
        const bool same_node = topo.place(c).rack == topo.place(e.chip).rack &&
                               topo.place(c).node == topo.place(e.chip).node;
        EXPECT_EQ(same_node, topo.link_kind(l) == LinkKind::Local);
      }
    // Every local link is wired; a node alone has no global ones.
    EXPECT_GE(wired, topo.physical_chips() * 7);
  }
  // The 576 system: 7 local + 4 global per chip, all but 6 ports per rack wired.
  const Topology topo(load_system("groq-576"));
  int unwired = 0;
  for (int c = 0; c < topo.physical_chips(); ++c)
    for (int l = 0; l < topo.links_per_chip(); ++l) unwired += !topo.peer(c, l).wired();
  EXPECT_EQ(unwired, 8 * 6);
}

// FACTS.md systems: a node is all-to-all (1 hop); a 72-chip partition has diameter 3; a group of 33
// nodes (264 chips) is within 3 hops; 145 racks (10,440 chips) within 5 (see below for how this
// model counts to 5).
TEST(TopologyTest, DiametersMatchThePublishedHopCounts) {
  EXPECT_EQ(Topology(load_system("groq-node")).diameter(), 1);
  EXPECT_EQ(Topology(load_system("groq-rack")).diameter(), 3);
  // 33 nodes x 32 global ports each: exactly all-to-all between nodes (a Dragonfly group of 33
  // nodes, which is how the 264-chip figure arises), so local + global + local.
  EXPECT_EQ(Topology(dragonfly(33, 1), 900e6).diameter(), 3);
  // 576 (no published figure): local, global (to the other rack), local, global (to the node),
  // local in the worst case.
  EXPECT_EQ(Topology(load_system("groq-576")).diameter(), 5);
  // The largest system: FACTS.md says 5 hops; this model gives 7 when every link counts. With 4
  // global links per chip a route must often change chips inside an intermediate node: local,
  // global (to the node holding the port to the other rack), local, global (to that rack), local,
  // global (to the destination node), local. Counting, as the published figure appears to, the hops
  // between nodes plus the two ends (a node forwarding internally, as one router), every node
  // reaches every other within 3 global hops: 3 + 2 = 5. The intermediate local hops come from a
  // chip having only 4 global ports while a node must reach 144 racks through its rack's nodes; we
  // read the difference as one of counting (chips vs nodes as routers), not of the wiring.
  const Topology big(load_system("groq-dragonfly-10440"));
  EXPECT_EQ(big.diameter(), 7);
  EXPECT_EQ(node_diameter(big), 3);
  // 576: 30 links per rack pair reach every node of the other rack, so 2 between nodes; the
  // chip-level 5 is local, global, local, global, local.
  EXPECT_EQ(node_diameter(Topology(load_system("groq-576"))), 2);
  EXPECT_EQ(node_diameter(Topology(load_system("groq-rack"))), 1);
}

TEST(TopologyTest, RoutesAreShortestDeterministicAndUseRealLinks) {
  for (const char *name : {"groq-node", "groq-rack", "groq-576"}) {
    SCOPED_TRACE(name);
    const Topology topo(load_system(name));
    for (const int from : {0, 1, 5, topo.physical_chips() / 2 + 3, topo.physical_chips() - 1}) {
      const std::vector<int> dist = reference_distances(topo, from);
      for (int to = 0; to < topo.physical_chips(); ++to) {
        ASSERT_EQ(topo.hops(from, to), dist[to]) << from << " -> " << to;
        if (to % 7 == 0) expect_valid_route(topo, from, to);
      }
    }
  }
  const Topology topo(load_system("groq-576"));
  const std::vector<Hop> a = topo.route(5, 500), b = topo.route(5, 500);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].to, b[i].to);
    EXPECT_EQ(a[i].link, b[i].link);
  }
  EXPECT_TRUE(topo.route(7, 7).empty());
  EXPECT_THROW(topo.route(0, 576), Error);

  // Across the largest system: valid routes of at most 7 hops, crossing domains where racks do.
  const Topology big(load_system("groq-dragonfly-10440"));
  for (const auto &[from, to] : std::vector<std::pair<int, int>>{
           {0, 10439}, {71, 576}, {3000, 42}, {5000, 5001}, {100, 9000}}) {
    expect_valid_route(big, from, to);
    EXPECT_LE(big.hops(from, to),
              7);  // the model's diameter (see DiametersMatch...)
  }
  EXPECT_EQ(big.domain(575), 0);
  EXPECT_EQ(big.domain(576), 1);
  EXPECT_EQ(big.domain(10439), 18);  // 19 domains: 18 of 8 racks, one of 1
}

TEST(TopologyTest, TransferTiming) {
  const Topology topo(load_system("groq-576"));
  // 4 lanes x 25 Gb/s = 12.5 GB/s per direction at 900 MHz.
  EXPECT_NEAR(topo.link_bytes_per_cycle(), 12.5e9 / 900e6, 1e-9);
  EXPECT_EQ(topo.hop_latency_cycles(), 650);  // 722 ns x 0.9 GHz = 649.8
  // One vector: one flit of 328 B, ceil(328 / 13.89) = 24 cycles on the wire, then 217.
  EXPECT_EQ(topo.link_occupancy_cycles(320), 24);
  EXPECT_EQ(topo.link_transfer_cycles(320), 24 + 217);
  EXPECT_EQ(topo.link_occupancy_cycles(321),
            48);  // two flits: ceil(656 / 13.89)
  EXPECT_EQ(topo.link_occupancy_cycles(0), 0);
  // 1 MiB: 3277 flits x 328 B over 13.89 B/cycle.
  EXPECT_EQ(topo.link_occupancy_cycles(1 << 20), 77390);  // 1,074,856 B x 0.072

  const std::vector<Hop> one = topo.route(0, 1), three = topo.route(0, 575);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(topo.route_transfer_cycles(one, 320), topo.link_transfer_cycles(320));
  EXPECT_EQ(topo.route_transfer_cycles(three, 320),
            24 + 217 + static_cast<std::int64_t>(three.size() - 1) * 650);
  EXPECT_EQ(topo.route_transfer_cycles({}, 320), 0);

  // The other published per-hop figure is one override away.
  const Topology ship(load_system("groq-576", {{"system.hop_latency_ns", "300"}}));
  EXPECT_EQ(ship.hop_latency_cycles(), 270);

  // A hop between synchronous domains pays the Ethernet base latency.
  const Topology big(load_system("groq-dragonfly-10440"));
  const std::vector<Hop> across = big.route(0, 10439);
  const auto crossings =
      std::count_if(across.begin(), across.end(), [](const Hop &h) { return h.crosses_domain; });
  EXPECT_EQ(crossings, 1);
  EXPECT_EQ(big.ethernet_latency_cycles(), 1800);
  EXPECT_EQ(big.route_transfer_cycles(across, 320),
            24 + 217 + static_cast<std::int64_t>(across.size() - 1) * 650 + 1800);
}

TEST(TopologyTest, EthernetJitterIsSeededLogNormal) {
  const Topology topo(load_system("groq-dragonfly-10440"));
  std::mt19937_64 a(42), b(42);
  std::vector<double> draws;
  for (int i = 0; i < 10001; ++i) {
    const double x = topo.sample_ethernet_jitter_ns(a);
    EXPECT_EQ(x, topo.sample_ethernet_jitter_ns(b));
    EXPECT_GT(x, 0);
    draws.push_back(x);
  }
  std::nth_element(draws.begin(), draws.begin() + 5000, draws.end());
  EXPECT_NEAR(draws[5000], 500, 25);  // the median
}

TEST(TopologyTest, OverridesReachTheNamedChipPreset) {
  const SystemConfig s = load_system("groq-rack", {{"chip.clock_hz", "1e9"}});
  EXPECT_DOUBLE_EQ(s.chip.clock_hz, 1e9);
  EXPECT_EQ(s.topology.chips, 64);
  testing::expect_error_naming(
      [] {
        load_system("groq-rack", {{"system.clock_hz", "1"}});
      },
      "groq-rack.yaml", {"system.clock_hz"});
  testing::expect_error_naming(
      [] {
        load_system("groq-rack", {{"system.racks", "2"}});
      },
      "groq-rack.yaml", {"system.racks"});
}

// Bad files: groq-576.yaml with one thing changed.
class SystemPresetFileTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = YAML::LoadFile(load_system("groq-576").source); }

  void expect_error(const YAML::Node &root, const std::vector<std::string> &words) {
    const std::string path =
        testing::scratch_dir("topology_" + std::to_string(counter_++)) + "/edited.yaml";
    YAML::Emitter out;
    out << root;
    std::ofstream(path) << out.c_str() << "\n";
    testing::expect_error_naming([&] { load_system(path); }, path, words);
  }
  void expect_bad(const std::string &key, const std::string &value,
                  const std::vector<std::string> &words) {
    SCOPED_TRACE(key + " = " + value);
    YAML::Node root = YAML::Clone(root_);
    root["system"][key]["value"] = value;
    expect_error(root, words);
  }

  YAML::Node root_;
  int counter_ = 0;
};

TEST_F(SystemPresetFileTest, BadValuesNameTheKey) {
  expect_bad("local_links", "6", {"system.local_links", "all-to-all"});
  expect_bad("chips", "500", {"system.chips", "system.racks"});
  {
    YAML::Node root = YAML::Clone(root_);  // 300 racks need 299 ports each; a rack has 216
    root["system"]["racks"]["value"] = 300;
    root["system"]["chips"]["value"] = 300 * 72;
    expect_error(root, {"system.racks", "216"});
  }
  expect_bad("global_links", "0", {"system.global_links"});
  expect_bad("flit_payload_bytes", "256", {"system.flit_payload_bytes", "chip.vector_bytes"});
  expect_bad("hop_latency_ns", "100", {"system.hop_latency_ns", "system.link_latency_cycles"});
  expect_bad("sync_domain_chips", "100", {"system.sync_domain_chips"});
  expect_bad("lanes_per_link", "0", {"'system.lanes_per_link'"});
  expect_bad("lane_bits_per_s", "fast", {"'system.lane_bits_per_s'"});
  expect_bad("link_latency_cycles", "-1", {"'system.link_latency_cycles'"});
}

TEST_F(SystemPresetFileTest, BadStructureNamesTheKey) {
  YAML::Node root = YAML::Clone(root_);
  root["system"].remove("racks");
  expect_error(root, {"'system.racks'", "missing"});
  root = YAML::Clone(root_);
  root["system"]["mesh"]["value"] = 1;
  expect_error(root, {"unknown key 'system.mesh'"});
  root = YAML::Clone(root_);
  root["system"]["chips"].remove("source");
  expect_error(root, {"'system.chips'", "source", "assumption"});
  root = YAML::Clone(root_);
  root["chip"] = "lpu-v9";
  expect_error(root, {"'chip'", "lpu-v9"});
  root = YAML::Clone(root_);
  root["chip"] = "groq-node";
  expect_error(root, {"'chip'", "groq-node", "not a chip preset"});
  root = YAML::Clone(root_);
  root["delays"] = YAML::Load("{mem_read: {value: 2, assumption: x}}");
  expect_error(root, {"'chip'", "'delays'"});
}

// DIGEST.md's scaling table gives the network's end-to-end latency for 8, 16 and 64 chips
// (0.6, 1.2 and 1.8 us over 1, 2 and 3 hops). The model's worst one-vector transfer between any
// two chips of that many: docs/validation.md quotes these lines.
TEST(TopologyTest, ScalingTableLatencies) {
  const Topology rack(load_system("groq-rack"));
  auto worst = [&](int chips) {
    std::int64_t cycles = 0;
    int hops = 0;
    for (int a = 0; a < chips; ++a)
      for (int b = 0; b < chips; ++b) {
        const std::vector<Hop> r = rack.route(a, b);
        cycles = std::max(cycles, rack.route_transfer_cycles(r, 320));
        hops = std::max(hops, static_cast<int>(r.size()));
      }
    std::printf("[measured] %d chips: worst route %d hops, one vector %lld cycles = %.2f us\n", chips,
                hops, static_cast<long long>(cycles), cycles / 0.9e3);
    return hops;
  };
  EXPECT_EQ(worst(8), 1);
  EXPECT_EQ(worst(16), 3);  // local, global, local: one global link joins two nodes
  EXPECT_EQ(worst(64), 3);
}

}  // namespace
}  // namespace lockstep::lpu

// Simulator speed: simulated iterations (Repeat expanded) per second of host time, in timing and
// in functional mode (items_per_second). Target: >= 50 M/s in timing mode on the 2-core dev
// machine. Run: build/<dir>/bench/simulator_bench --benchmark_repetitions=5
//
// The program keeps the whole chip busy every cycle, legally:
//   - VXM: all 16 ALUs add two streams per cycle. ALU a = 2j + s takes e_a from mem.wj (width-2
//     read onto e2j, e2j+1) and w_a from mem.ej (onto w2j, w2j+1); both arrive at the VXM (47)
//     3 + j cycles after the read. The sum goes out on w(16 + a) to mem.w(8 + j), which writes
//     both banks (width 2) 13 + j cycles after the add.
//   - MXM: all 4 planes load weights at full width (16 streams per cycle, 20 cycles per 320
//     rows) and install every 20 cycles, double-buffered (the next block's first load issues in
//     the install's cycle). Each plane is fed by 8 MEM slices reading both banks onto 16 streams:
//     plane w0 (1) from mem.w16..w23 on w0..w15, plane w1 (0) from mem.w24..w31 on w16..w31,
//     plane e0 (93) from mem.e16..e23 on e0..e15, plane e1 (94) from mem.e24..e31 on e16..e31.
//     These segments lie outside the VXM's (positions 31..55), so the streams are shared in space.
// Per cycle: 16 adds + 24 VXM-side MEM iterations + 32 MXM-side reads + 4 loads + 1/5 installs.
#include <benchmark/benchmark.h>

#include "lpu/program/program_builder.h"
#include "lpu/sim/simulator.h"

namespace lockstep::lpu {
namespace {

constexpr int kBlock = 4096;      // iterations per MEM / VXM instruction (one bank's vectors)
constexpr int kRowsPerLoad = 16;  // streams per LoadWeights iteration
constexpr int kLoadBlock = 20;    // 320 rows / 16

Program busy_chip_program(const Floorplan& floorplan, int blocks) {
  ProgramBuilder b(floorplan);
  const int vxm = floorplan.vxm_position();
  const int start = 64;  // first add; every source read issues at a positive cycle
  const int west_slices = floorplan.mem_slices() / 2;
  for (int block = 0; block < blocks; ++block) {
    const int t = start + block * kBlock;
    for (int j = 0; j < 8; ++j) {
      b.add(floorplan.mem_queue(j), mem_read(t - 3 - j, kBlock, 0, east(2 * j), vxm, 2));
      b.add(floorplan.mem_queue(west_slices + j),
            mem_read(t - 3 - j, kBlock, 0, west(2 * j), vxm, 2));
      b.add(floorplan.mem_queue(8 + j), mem_write(t + 13 + j, kBlock, 0, west(16 + 2 * j), 2));
    }
    for (int a = 0; a < 16; ++a)
      b.add(floorplan.vxm_queue(a), vector_op(Opcode::Add, t, kBlock, {east(a), west(a)},
                                              west(16 + a), floorplan.mem_position(8 + a / 2)));
  }

  // MXM: plane p's LoadWeights read their 16 streams at its position from cycle `load`.
  struct Feed {
    int plane, first_slice, first_stream;
    bool east;
  };
  const Feed feeds[] = {{0, 16, 0, false},
                        {1, 24, 16, false},
                        {2, west_slices + 16, 0, true},
                        {3, west_slices + 24, 16, true}};
  const int load = start;
  const int cycles = blocks * kBlock;
  for (const Feed& f : feeds) {
    const int position = floorplan.mxm_position(f.plane);
    for (int j = 0; j < 8; ++j) {
      const int slice = f.first_slice + j;
      const int hops = std::abs(floorplan.mem_position(slice) - position);
      const int stream = f.first_stream + 2 * j;
      for (int block = 0; block < blocks; ++block)
        b.add(floorplan.mem_queue(slice),
              mem_read(load + block * kBlock - hops - 2, kBlock, 0,
                       f.east ? east(stream) : west(stream), position, 2));
    }
    const std::uint8_t first = f.east ? east(f.first_stream) : west(f.first_stream);
    for (int c = 0; c + kLoadBlock <= cycles; c += kLoadBlock) {
      b.add(floorplan.mxm_queue(f.plane, Unit::MxmLoad),
            load_weights(load + c, kLoadBlock, 0, first, kRowsPerLoad));
      b.add(floorplan.mxm_queue(f.plane, Unit::MxmCompute),
            install_weights(load + c + kLoadBlock, 320, ElementType::I8));
    }
  }
  return b.program();
}

void run_busy_chip(benchmark::State& state, SimulationMode mode) {
  const ChipConfig config;
  Chip chip(config);
  const Program program = busy_chip_program(chip.floorplan(), static_cast<int>(state.range(0)));
  const std::uint64_t iterations = program.iteration_count();
  chip.run(program, mode);  // warm-up: the functional MEM slices are allocated here
  for (auto _ : state) {
    const SimulationResult result = chip.run(program, mode);
    benchmark::DoNotOptimize(result.cycles);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * iterations));
  state.counters["iterations_per_run"] = static_cast<double>(iterations);
  state.counters["instructions_per_run"] = static_cast<double>(program.instruction_count());
}

void BM_SimulateTiming(benchmark::State& state) { run_busy_chip(state, SimulationMode::Timing); }
void BM_SimulateFunctional(benchmark::State& state) {
  run_busy_chip(state, SimulationMode::Functional);
}

BENCHMARK(BM_SimulateTiming)->Arg(4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SimulateFunctional)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace lockstep::lpu

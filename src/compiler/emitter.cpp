#include "compiler/emitter.h"

#include <algorithm>

#include "core/error.h"

namespace lockstep::compiler {
namespace {

std::uint64_t at_least(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

Instruction make(Opcode op) {
  Instruction in;
  in.opcode = op;
  return in;
}

}  // namespace

Emitter::Emitter(Scheduler& scheduler)
    : s_(scheduler), fp_(scheduler.floorplan()), planes_(scheduler.floorplan().mxm_planes()),
      channel_free_(kC2cChannels, 0),
      sent_lag_(kC2cChannels),
      received_(kC2cChannels, 0) {
  for (auto& p : planes_) {
    p.acc_ready.assign(s_.chip().mxm_accumulator_rows, 0);
    p.ideal_acc_ready.assign(s_.chip().mxm_accumulator_rows, 0);
    p.acc_read.assign(s_.chip().mxm_accumulator_rows, 0);
  }
}

int Emitter::read_stage(Group& g, const VecRef& src, int consumer, int slot,
                        std::int64_t consumer_offset, int consumer_position) {
  Stage st;
  st.queue = fp_.mem_queue(src.slice);
  st.instruction = make(Opcode::Read);
  st.instruction.addr = src.addr;
  st.instruction.addr_step = src.step;
  st.mem = {MemAccess::Kind::Read, src.addr, src.step};
  st.offset = consumer_offset - s_.delay_of(Opcode::Read) -
              hop_distance(fp_.mem_position(src.slice), consumer_position);
  g.stages.push_back(st);
  g.links.push_back({static_cast<int>(g.stages.size()) - 1, 0, {{consumer, slot}}});
  return static_cast<int>(g.links.size()) - 1;
}

void Emitter::write_stage(Group& g, const VecRef& dst, int producer, int out_slot,
                          std::int64_t producer_offset, int producer_position, Opcode producer_op) {
  Stage st;
  st.queue = fp_.mem_queue(dst.slice);
  st.instruction = make(Opcode::Write);
  st.instruction.addr = dst.addr;
  st.instruction.addr_step = dst.step;
  st.mem = {MemAccess::Kind::Write, dst.addr, dst.step};
  st.offset = producer_offset + s_.delay_of(producer_op) +
              hop_distance(producer_position, fp_.mem_position(dst.slice));
  g.stages.push_back(st);
  g.links.push_back({producer, out_slot, {{static_cast<int>(g.stages.size()) - 1, 0}}});
  g.bundles.push_back({static_cast<int>(g.links.size()) - 1});
}

std::uint64_t Emitter::unit_op(Opcode op, const std::vector<VecRef>& in, VecRef out,
                               std::uint32_t repeat, std::int32_t imm, float fimm,
                               Hemisphere sxm_side, const std::string& what) {
  const OpcodeInfo& info = opcode_info(op);
  if (in.size() != info.stream_inputs)
    fail("internal compiler error: {} takes {} inputs, given {}", info.mnemonic,
         info.stream_inputs, in.size());
  Group g;
  g.repeat = repeat;
  g.what = what.empty() ? std::string(info.mnemonic) : what;
  Stage unit;
  unit.queue = info.unit == Unit::Sxm ? fp_.sxm_queue(sxm_side) : fp_.vxm_queue(0);
  if (info.unit == Unit::Vxm)
    for (int alu = 0; alu < s_.chip().vxm_alus; ++alu) unit.alternatives.push_back(fp_.vxm_queue(alu));
  if (info.unit == Unit::Sxm && fp_.sxm_queues(sxm_side).size() > 1) unit.alternatives = fp_.sxm_queues(sxm_side);
  unit.instruction = make(op);
  unit.instruction.imm = imm;
  unit.instruction.fimm = fimm;
  g.stages.push_back(unit);
  const int position = s_.position_of(unit.queue);
  std::vector<std::pair<VecRef, int>> reads;  // distinct sources -> link
  for (std::size_t k = 0; k < in.size(); ++k) {
    auto it = std::find_if(reads.begin(), reads.end(), [&](auto& r) { return r.first == in[k]; });
    if (it != reads.end()) {
      g.links[it->second].consumers.push_back({0, static_cast<int>(k)});
      continue;
    }
    for (auto& r : reads)
      if (r.first.slice == in[k].slice)
        fail("internal compiler error in {}: two operands in MEM slice {}", g.what, in[k].slice);
    if (in[k].slice == out.slice)
      fail("internal compiler error in {}: operand and result in MEM slice {}", g.what, out.slice);
    const int link = read_stage(g, in[k], 0, static_cast<int>(k), 0, position);
    g.bundles.push_back({link});
    reads.push_back({in[k], link});
  }
  write_stage(g, out, 0, 0, 0, position, op);
  return s_.place(g);
}

Group Emitter::table_group(Opcode op, VecRef index, const TableRef& table, std::uint32_t repeat,
                           const std::string& what) {
  Group g;
  g.repeat = repeat;
  g.what = what;
  Stage unit;
  unit.queue = fp_.mem_queue(table.slice);
  unit.instruction = make(op);
  unit.instruction.addr = table.addr;
  unit.instruction.addr_step = 1;
  unit.instruction.imm = table.row_vectors;
  unit.instruction.imm2 = table.row_lo;
  unit.instruction.imm3 = table.rows;
  unit.mem = {op == Opcode::Gather ? MemAccess::Kind::RegionRead : MemAccess::Kind::RegionWrite,
              0, 0, table.addr,
              table.addr + static_cast<std::uint32_t>(table.rows * table.row_vectors)};
  g.stages.push_back(unit);
  index.step = 0;  // every iteration reads the same index vector
  g.bundles.push_back({read_stage(g, index, 0, 0, 0, fp_.mem_position(table.slice))});
  return g;
}

std::uint64_t Emitter::gather(VecRef index, const TableRef& table, VecRef out,
                              std::uint32_t repeat, const std::string& what) {
  if (index.slice == table.slice || out.slice == table.slice || index.slice == out.slice)
    fail("internal compiler error in {}: gather operands share a slice", what);
  Group g = table_group(Opcode::Gather, index, table, repeat, what);
  write_stage(g, out, 0, 0, 0, fp_.mem_position(table.slice), Opcode::Gather);
  return s_.place(g);
}

std::uint64_t Emitter::scatter(VecRef index, VecRef data, const TableRef& table,
                               std::uint32_t repeat, const std::string& what) {
  if (index.slice == table.slice || data.slice == table.slice || index.slice == data.slice)
    fail("internal compiler error in {}: scatter operands share a slice", what);
  Group g = table_group(Opcode::Scatter, index, table, repeat, what);
  g.bundles.push_back({read_stage(g, data, 0, 1, 0, fp_.mem_position(table.slice))});
  return s_.place(g);
}

std::uint64_t Emitter::load_weights(int plane, const std::vector<VecRef>& rows,
                                    std::uint32_t first_row, std::uint32_t repeat,
                                    const std::string& what) {
  PlaneState& ps = planes_[plane];
  Group g;
  g.repeat = repeat;
  g.what = what;
  g.not_before = ps.buffer_free;
  Stage unit;
  unit.queue = fp_.mxm_queue(plane, Unit::MxmLoad);
  unit.instruction = make(Opcode::LoadWeights);
  unit.instruction.width = static_cast<std::uint8_t>(rows.size());
  unit.instruction.addr = first_row;
  g.stages.push_back(unit);
  const int position = fp_.mxm_position(plane);
  std::vector<int> bundle;
  for (std::size_t w = 0; w < rows.size(); ++w)
    bundle.push_back(read_stage(g, rows[w], 0, static_cast<int>(w), 0, position));
  g.bundles.push_back(bundle);
  const std::uint64_t t = s_.place(g);
  ps.rows_loaded = std::max(ps.rows_loaded, t + repeat - 1 + s_.delay_of(Opcode::LoadWeights));
  ps.ideal_rows_loaded =
      std::max(ps.ideal_rows_loaded, s_.ideal_anchor() + repeat - 1 + s_.delay_of(Opcode::LoadWeights));
  return t;
}

void Emitter::load_block(int plane, const std::vector<int>& slices, std::uint32_t addr,
                         std::uint32_t rows, const std::string& what) {
  const std::uint32_t width = static_cast<std::uint32_t>(slices.size());
  const std::uint32_t full = rows / width, rest = rows % width;
  std::vector<VecRef> sources;
  for (std::uint32_t s = 0; s < width; ++s) sources.push_back({slices[s], addr, 1});
  if (full > 0) load_weights(plane, sources, 0, full, what);
  if (rest > 0) {
    sources.resize(rest);
    for (VecRef& r : sources) r.addr = addr + full;
    load_weights(plane, sources, full * width, 1, what);
  }
}

std::uint64_t Emitter::install_weights(int plane, std::uint32_t rows, ElementType type,
                                       const std::string& what) {
  PlaneState& ps = planes_[plane];
  const std::int64_t d = s_.delay_of(Opcode::InstallWeights);
  Group g;
  g.what = what;
  g.not_before = std::max(ps.rows_loaded, at_least(static_cast<std::int64_t>(ps.array_last_use) + 1 - d));
  g.ideal_not_before = ps.ideal_rows_loaded;
  Stage unit;
  unit.queue = fp_.mxm_queue(plane, Unit::MxmCompute);
  unit.instruction = make(Opcode::InstallWeights);
  unit.instruction.addr = rows;
  unit.instruction.imm = static_cast<std::int32_t>(type);
  g.stages.push_back(unit);
  const std::uint64_t t = s_.place(g);
  ps.buffer_free = t + 1;
  ps.array_ready = t + d;
  ps.array_type = type;
  ps.ideal_array_ready = s_.ideal_anchor() + d;
  ps.ideal_rows_loaded = 0;
  return t;
}

std::uint64_t Emitter::compute(int plane, VecRef act, std::uint32_t acc_row, std::int32_t acc_step,
                               bool accumulate, std::uint32_t repeat, const std::string& what) {
  PlaneState& ps = planes_[plane];
  Group g;
  g.repeat = repeat;
  g.what = what;
  g.not_before = ps.array_ready;
  g.ideal_not_before = ps.ideal_array_ready;
  // An fp16 pass takes the plane for two cycles (FACTS.md: 4 int8 or 2 fp16 sub-ops per cycle).
  g.stride = ps.array_type == ElementType::F16 ? 2 : 1;
  for (std::uint32_t i = 0; i < repeat; ++i) {
    const std::uint32_t r = acc_row + i * acc_step;
    const std::uint64_t need = accumulate ? ps.acc_ready[r] : ps.acc_read[r] + 1;
    g.not_before = std::max(g.not_before, at_least(static_cast<std::int64_t>(need) - std::int64_t{i} * g.stride));
  }
  Stage unit;
  unit.queue = fp_.mxm_queue(plane, Unit::MxmCompute);
  unit.instruction = make(Opcode::Compute);
  unit.instruction.addr = acc_row;
  unit.instruction.addr_step = acc_step;
  unit.instruction.imm = accumulate ? 1 : 0;
  g.stages.push_back(unit);
  g.bundles.push_back({read_stage(g, act, 0, 0, 0, fp_.mxm_position(plane))});
  const std::uint64_t t = s_.place(g);
  ps.array_last_use = t + std::uint64_t{repeat - 1} * g.stride + g.stride - 1;
  for (std::uint32_t i = 0; i < repeat; ++i) {
    const std::uint32_t r = acc_row + i * acc_step;
    ps.acc_ready[r] = t + i * g.stride + s_.delay_of(Opcode::Compute);
    // Accumulating is pipelined on the machine (the simulator orders it, without a wait).
    const std::uint64_t ideal = s_.ideal_anchor() + i * g.stride + s_.delay_of(Opcode::Compute);
    ps.ideal_acc_ready[r] = accumulate ? std::max(ps.ideal_acc_ready[r], ideal) : ideal;
  }
  return t;
}

std::uint64_t Emitter::emit(int plane, std::uint32_t acc_row, const std::array<VecRef, 4>& out,
                            std::uint32_t repeat, const std::string& what) {
  PlaneState& ps = planes_[plane];
  Group g;
  g.repeat = repeat;
  g.what = what;
  for (std::uint32_t i = 0; i < repeat; ++i) {
    g.not_before = std::max(g.not_before,
                            at_least(static_cast<std::int64_t>(ps.acc_ready[acc_row + i]) - i));
    g.ideal_not_before = std::max(
        g.ideal_not_before, at_least(static_cast<std::int64_t>(ps.ideal_acc_ready[acc_row + i]) - i));
  }
  Stage unit;
  unit.queue = fp_.mxm_queue(plane, Unit::MxmEmit);
  unit.instruction = make(Opcode::Emit);
  unit.instruction.addr = acc_row;
  unit.instruction.addr_step = 1;
  g.stages.push_back(unit);
  const int position = fp_.mxm_position(plane);
  std::vector<int> bundle;
  for (int k = 0; k < 4; ++k) {
    write_stage(g, out[k], 0, k, 0, position, Opcode::Emit);
    bundle.push_back(g.bundles.back().front());
    g.bundles.pop_back();
  }
  g.bundles.push_back(bundle);
  const std::uint64_t t = s_.place(g);
  for (std::uint32_t i = 0; i < repeat; ++i) ps.acc_read[acc_row + i] = t + i;
  return t;
}

std::vector<std::uint64_t> Emitter::send(VecRef src, const std::vector<int>& channels,
                                         std::uint32_t count, std::uint16_t occupancy,
                                         const std::string& what) {
  if (channels.empty() || count == 0) return {};
  Group g;
  g.repeat = count;
  g.stride = occupancy;
  g.what = what;
  const int position = fp_.c2c_position(channels[0]);
  for (int channel : channels) {
    if (fp_.c2c_position(channel) != position)
      fail("internal compiler error in {}: a broadcast spans C2C channels at two positions", what);
    Stage st;
    st.queue = fp_.c2c_queue(channel, true);
    st.instruction = make(Opcode::Send);
    g.stages.push_back(st);
    g.not_before = std::max(g.not_before, channel_free_[channel]);
  }
  const int link = read_stage(g, src, 0, 0, 0, position);
  for (std::size_t k = 1; k < channels.size(); ++k)
    g.links[link].consumers.push_back({static_cast<int>(k), 0});
  g.bundles.push_back({link});
  const std::uint64_t t = s_.place(g);
  std::vector<std::uint64_t> cycles(count);
  for (std::uint32_t i = 0; i < count; ++i) cycles[i] = t + std::uint64_t{i} * occupancy;
  for (int channel : channels) {
    channel_free_[channel] = cycles.back() + occupancy;
    for (std::uint32_t i = 0; i < count; ++i) sent_lag_[channel].push_back(t - s_.ideal_anchor());
  }
  return cycles;
}

std::uint64_t Emitter::receive(int channel, VecRef dst, const std::vector<std::uint64_t>& arrivals,
                               std::uint16_t occupancy, const std::string& what) {
  if (arrivals.empty()) return 0;
  Group g;
  g.repeat = static_cast<std::uint32_t>(arrivals.size());
  g.stride = occupancy;
  g.what = what;
  const std::vector<std::uint64_t>& lags = sent_lag_[channel];
  for (std::size_t i = 0; i < arrivals.size(); ++i) {
    const std::int64_t at = static_cast<std::int64_t>(arrivals[i]) - static_cast<std::int64_t>(i * occupancy);
    g.not_before = std::max(g.not_before, at_least(at));
    const std::size_t k = received_[channel] + i;
    const std::int64_t lag = k < lags.size() ? static_cast<std::int64_t>(lags[k]) : 0;
    g.ideal_not_before = std::max(g.ideal_not_before, at_least(at - lag));
  }
  received_[channel] += arrivals.size();
  Stage st;
  st.queue = fp_.c2c_queue(channel, false);
  st.instruction = make(Opcode::Receive);
  g.stages.push_back(st);
  write_stage(g, dst, 0, 0, 0, fp_.c2c_position(channel), Opcode::Receive);
  return s_.place(g);
}

}  // namespace lockstep::compiler

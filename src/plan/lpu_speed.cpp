#include "plan/lpu_speed.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>


namespace lockstep::plan {
namespace {

std::filesystem::path cache_file() {
  if (const char* dir = std::getenv("LOCKSTEP_CACHE_DIR"); dir && *dir)
    return std::filesystem::path(dir) / "lpu-predictions.json";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "lockstep" / "lpu-predictions.json";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".cache" / "lockstep" / "lpu-predictions.json";
  return {};
}

// The running binary's size and modification time: a rebuilt compiler invalidates the cache.
std::string binary_identity() {
  struct stat st {};
  if (stat("/proc/self/exe", &st) != 0) return "unknown";
  return fmt::format("{}-{}", st.st_size, st.st_mtime);
}

std::string cache_key(const model::ModelConfig& c, const std::string& model_name,
                      const lpu::SystemConfig& system, const compiler::PrecisionPolicy& weights,
                      std::int64_t context, std::int64_t batch, int stages) {
  return fmt::format("{}|{}x{}x{}x{}x{}x{}x{}|{}|{}|{}|{}|{}|{}", model_name, c.n_layer, c.n_embd, c.n_ff,
                     c.n_head, c.n_head_kv, c.head_dim, c.n_vocab, system.name,
                     compiler::precision_policy_name(weights), context, batch, stages, binary_identity());
}

nlohmann::json read_cache(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

}  // namespace

LpuPrediction predict_lpu(const model::ModelConfig& config, const std::string& model_name,
                          const lpu::SystemConfig& system, const compiler::PrecisionPolicy& weights,
                          std::int64_t context, std::int64_t batch, int stages,
                          const std::function<void(int, int)>& progress) {
  const std::string key = cache_key(config, model_name, system, weights, context, batch, stages);
  const std::filesystem::path path = cache_file();
  nlohmann::json cache = path.empty() ? nlohmann::json::object() : read_cache(path);
  LpuPrediction p;
  p.system = system.name;
  p.batch = batch;
  p.context = context;
  p.clock_hz = system.chip.clock_hz;
  if (const auto it = cache.find(key); it != cache.end() && it->is_object()) {
    try {
      p.chips = it->at("chips").get<std::int64_t>();
      p.stages = it->at("stages").get<std::int64_t>();
      p.tensor_parallel = it->at("tensor_parallel").get<int>();
      p.step_cycles = it->at("step_cycles").get<std::uint64_t>();
      p.period_cycles = it->at("period_cycles").get<std::uint64_t>();
      if (p.stages > 0 && p.step_cycles > 0) {
        p.from_cache = true;
        return p;
      }
    } catch (const nlohmann::json::exception&) {  // a damaged entry: compile again
    }
  }
  compiler::DecodeOptions options{weights, context, batch};
  const compiler::SystemDecode decode(config, nullptr, system, options, compiler::PartitionRequest(stages, 0),
                                 [&](int done, int stages, std::size_t) {
                                   if (progress) progress(done, stages);
                                 });
  return record_lpu_prediction(decode, config, model_name, system, weights, context, batch, stages);
}

LpuPrediction record_lpu_prediction(const compiler::SystemDecode& decode, const model::ModelConfig& config,
                                    const std::string& model_name, const lpu::SystemConfig& system,
                                    const compiler::PrecisionPolicy& weights, std::int64_t context,
                                    std::int64_t batch, int stages) {
  LpuPrediction p;
  p.system = system.name;
  p.batch = batch;
  p.context = context;
  p.clock_hz = system.chip.clock_hz;
  p.stages = static_cast<std::int64_t>(decode.stages().size());
  p.tensor_parallel = decode.tensor_parallel();
  p.chips = p.stages * p.tensor_parallel;
  p.step_cycles = decode.cycles();
  for (const auto& stage : decode.stages()) p.period_cycles = std::max(p.period_cycles, stage.cycles);
  const std::filesystem::path path = cache_file();
  if (!path.empty()) {
    nlohmann::json cache = read_cache(path);
    cache[cache_key(config, model_name, system, weights, context, batch, stages)] = {
        {"chips", p.chips}, {"stages", p.stages}, {"tensor_parallel", p.tensor_parallel},
        {"step_cycles", p.step_cycles}, {"period_cycles", p.period_cycles}};
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    const auto temporary = fmt::format("{}.{}.tmp", path.string(), getpid());
    if (std::ofstream out(temporary); out && (out << cache.dump(1)))
      std::filesystem::rename(temporary, path, ec);
  }
  return p;
}

}  // namespace lockstep::plan

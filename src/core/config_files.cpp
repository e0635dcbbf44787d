#include "core/config_files.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace lockstep {
namespace {

namespace fs = std::filesystem;

bool has_folder(const fs::path& dir, const std::string& kind) {
  std::error_code ec;
  return !dir.empty() && fs::is_directory(dir / kind, ec);
}

// Names are plain file stems: no separators, no leading dot, so a name cannot leave the folder.
bool valid_config_name(const std::string& name) {
  return !name.empty() && name.size() <= 128 && name[0] != '.' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
         });
}

}  // namespace

std::string config_dir(const std::string& kind) {
  if (const char* env = std::getenv("LOCKSTEP_CONFIG_DIR"); env && *env) {
    if (has_folder(env, kind)) return env;
    fail("LOCKSTEP_CONFIG_DIR is '{}', which has no {}/ folder", env, kind);
  }
  std::vector<std::string> tried;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate : {dir / ".." / ".." / "configs", dir / ".." / "configs"}) {
      if (has_folder(candidate, kind)) return candidate.lexically_normal().string();
      tried.push_back(candidate.lexically_normal().string());
    }
  }
  const fs::path source = fs::path(LOCKSTEP_SOURCE_DIR) / "configs";
  if (has_folder(source, kind)) return source.string();
  tried.push_back(source.string());
  fail("cannot find configs/{}: tried {}; set LOCKSTEP_CONFIG_DIR", kind, fmt::join(tried, ", "));
}

std::vector<std::string> config_names(const std::string& kind) {
  const fs::path dir = fs::path(config_dir(kind)) / kind;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  if (ec) fail("{}: cannot list the folder ({})", dir.string(), ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

ConfigFile find_config_file(const std::string& kind, const std::string& name_or_path,
                            const std::string& what) {
  const fs::path as_path(name_or_path);
  if (as_path.extension() == ".yaml") {
    std::error_code ec;
    if (!fs::is_regular_file(as_path, ec)) fail("{} file '{}' does not exist", what, name_or_path);
    return {name_or_path, as_path.stem().string()};
  }
  const auto names = config_names(kind);
  if (!valid_config_name(name_or_path) ||
      std::find(names.begin(), names.end(), name_or_path) == names.end())
    fail("unknown {} '{}' (configs/{} has: {})", what, name_or_path, kind, fmt::join(names, ", "));
  const fs::path file = fs::path(config_dir(kind)) / kind / (name_or_path + ".yaml");
  return {file.string(), name_or_path};
}

}  // namespace lockstep

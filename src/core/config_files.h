// Finding the project's hand-written configuration files: configs/<kind>/<name>.yaml, where
// <kind> is "models" (the model-shape catalog) or "systems" (hardware presets).
//
// The configs/ folder is found, in order, at $LOCKSTEP_CONFIG_DIR, <dir of the executable>/../../
// configs, <dir of the executable>/../configs, then the source tree's configs/
// (LOCKSTEP_SOURCE_DIR): the first that holds a <kind>/ folder. A set but unsuitable
// $LOCKSTEP_CONFIG_DIR is an error, not a reason to look elsewhere.
#pragma once

#include <string>
#include <vector>

namespace lockstep {

// The configs/ folder that holds `kind`/. Throws lockstep::Error naming what was tried.
std::string config_dir(const std::string& kind);

// Stems of the .yaml files in configs/<kind>/, sorted.
std::vector<std::string> config_names(const std::string& kind);

struct ConfigFile {
  std::string path;  // the file to read
  std::string name;  // its stem: "llama-2-7b", "lpu-v1"
};

// A name ("lpu-v1": configs/<kind>/lpu-v1.yaml, which must be listed by config_names) or a path
// (anything ending in ".yaml", which must exist). `what` names the kind of thing in errors:
// "unknown system preset 'x' (configs/systems has: ...)", "system preset file 'y.yaml' does not
// exist".
ConfigFile find_config_file(const std::string& kind, const std::string& name_or_path,
                            const std::string& what);

}  // namespace lockstep

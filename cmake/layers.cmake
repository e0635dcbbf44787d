# The layers of src/ (DESIGN.md "One path for data"), lowest first. Each layer is one folder and
# one static library (lockstep_<layer>, "/" -> "_"), linked only to the layers it names below, so
# a call that points up fails to link; check_layers.cmake makes an include that points up fail
# the build too. A layer's files may include its own headers and those of the layers it uses,
# nothing else: reaching two layers down means naming that layer here.
set(LOCKSTEP_LAYERS
  core numerics format tokenizer model graph reference
  lpu/arch lpu/program lpu/sim lpu/report compiler
  cpu runtime plan serve cli)

set(LOCKSTEP_USES_core        "")
set(LOCKSTEP_USES_numerics    core)
set(LOCKSTEP_USES_format      core numerics)
set(LOCKSTEP_USES_tokenizer   core format)
set(LOCKSTEP_USES_model       core numerics format tokenizer)
set(LOCKSTEP_USES_graph       core numerics model)
set(LOCKSTEP_USES_reference   core numerics format model)
# The machine: its description, its program format (with the static checker), its simulators.
set(LOCKSTEP_USES_lpu/arch    core)
set(LOCKSTEP_USES_lpu/program core lpu/arch)
set(LOCKSTEP_USES_lpu/sim     core numerics lpu/arch lpu/program)
# The compiler writes programs for the machine it describes; it never runs them.
set(LOCKSTEP_USES_compiler    core numerics format model graph lpu/arch lpu/program)
set(LOCKSTEP_USES_lpu/report  core lpu/arch lpu/program lpu/sim)
set(LOCKSTEP_USES_cpu         core numerics format model graph)
set(LOCKSTEP_USES_runtime     core numerics format tokenizer model graph reference cpu compiler
                              lpu/arch lpu/program lpu/sim)
set(LOCKSTEP_USES_plan        core numerics model graph compiler lpu/arch lpu/program lpu/sim)
set(LOCKSTEP_USES_serve       core runtime)
set(LOCKSTEP_USES_cli         core numerics format tokenizer model graph reference lpu/arch
                              lpu/program lpu/sim compiler lpu/report cpu runtime plan serve)

# lockstep_layer_of(<path relative to src/> <out var>): the layer a file or include belongs to,
# by the longest layer folder that prefixes it; empty when none does.
function(lockstep_layer_of path out)
  set(best "")
  foreach(layer ${LOCKSTEP_LAYERS})
    string(LENGTH "${layer}/" n)
    string(SUBSTRING "${path}" 0 ${n} head)
    string(LENGTH "${best}" best_n)
    if(head STREQUAL "${layer}/" AND n GREATER best_n)
      set(best ${layer})
    endif()
  endforeach()
  set(${out} "${best}" PARENT_SCOPE)
endfunction()

// Instruction-set levels of the CPU kernels, picked at run time. Every kernel has a portable
// C++ version; the AVX2 (with FMA and F16C) and AVX-512 (F, BW, VL, DQ, VNNI, and BF16 where
// present) versions are compiled into files of their own (*_avx2.cpp, *_avx512.cpp) with those
// instructions enabled, and only called when the processor has them.
#pragma once

#include <optional>
#include <string_view>

namespace lockstep::cpu {

enum class Isa { Portable, Avx2, Avx512 };

const char* isa_name(Isa isa);  // "portable", "avx2", "avx512"
// "portable" | "avx2" | "avx512" | "native" (= best_isa()); nullopt otherwise.
std::optional<Isa> parse_isa(std::string_view text);

// True when this processor (and the OS, which must save the wider registers) runs `isa`.
bool isa_supported(Isa isa);
// The widest supported level. The environment variable LOCKSTEP_ISA (portable|avx2|avx512)
// lowers it, for tests and for comparing paths; a level the machine lacks is ignored.
Isa best_isa();
// True when the processor has AVX512_BF16 (vdpbf16ps); only meaningful when isa_supported(Avx512).
bool has_avx512_bf16();

}  // namespace lockstep::cpu

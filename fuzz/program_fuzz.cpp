// libFuzzer target for the two program readers: the input is read as a binary program
// (read_program_binary) and as assembly text (parse_program_asm, lpu-v1 floorplan). Whatever
// either accepts must survive the other form exactly: binary -> asm -> binary and asm -> asm ->
// asm give the same bytes (compared as binary, so NaN immediates count too); check_program and
// program_end_cycle run on it.
// lockstep::Error is an accepted outcome; any other exception, a crash, a sanitizer report or a
// round trip that changes the program is a bug. Seeds: build/asan/corpus/program_fuzz, written
// by seed_corpus at build time (random valid programs in both forms).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "lpu/program/program_asm.h"
#include "lpu/program/program_binary.h"
#include "lpu/program/program_check.h"

namespace {

using namespace lockstep;
using namespace lockstep::lpu;

// lpu-v1's values (ChipConfig's defaults) and their floorplan, built once.
struct Target {
  ChipConfig chip;
  Floorplan floorplan{chip};
};
const Target& target() {
  static const Target t;
  return t;
}
const ChipConfig& chip() { return target().chip; }
const Floorplan& floorplan() { return target().floorplan; }

void check(const Program& p) {
  try {
    check_program(p, chip(), floorplan());
  } catch (const Error&) {
  }
  program_end_cycle(p, chip());
}

[[noreturn]] void round_trip_failed(const char* why) {
  std::fprintf(stderr, "program_fuzz: the round trip failed: %s\n", why);
  std::abort();
}

// An accepted program survives assembly and binary unchanged; here an Error is a bug.
void round_trip(Program p) {
  if (p.queues.size() > static_cast<std::size_t>(floorplan().queue_count())) return;
  p.queues.resize(floorplan().queue_count());
  try {
    const auto bytes = write_program_binary(p);
    const auto text = write_program_asm(p, floorplan());
    if (write_program_binary(parse_program_asm(text, floorplan(), "rt.s")) != bytes)
      round_trip_failed("assembly changed the program");
    if (write_program_binary(read_program_binary(bytes, "rt.bin")) != bytes)
      round_trip_failed("binary changed the program");
  } catch (const Error& e) {
    round_trip_failed(e.what());
  }
}

template <typename Read>
void exercise(Read&& read) {
  Program p;
  try {
    p = read();
  } catch (const Error&) {
    return;
  }
  check(p);
  round_trip(std::move(p));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  exercise([&] { return read_program_binary({data, size}, "fuzz.lpuprog"); });
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  exercise([&] { return parse_program_asm(text, floorplan(), "fuzz.s"); });
  return 0;
}

# lockstep: the two commands a newcomer runs (see README.md).
#   make demo  - install what is missing, build, and generate text with the embedded model
#   make test  - install what is missing, build, and run the whole suite (what CI runs): the unit
#                suite (release), the same suite under AddressSanitizer + UBSan, and the fuzzers

.PHONY: all setup build demo test unit-tests sanitize fuzz clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release

demo: build
	@./build/release/lockstep demo

unit-tests: build
	@ctest --preset release

# The same ctest suite built with AddressSanitizer + UBSan (preset asan, in build/asan): a memory
# error, a leak or undefined behaviour fails the test that hit it. The sanitizer options are in
# the asan test preset (CMakePresets.json).
sanitize: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	@ctest --preset asan

fuzz: setup
	@bash scripts/run_fuzzers.sh

test: unit-tests sanitize fuzz

clean:
	rm -rf build

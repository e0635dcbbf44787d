# lockstep: the two commands a newcomer runs (see README.md).
#   make demo  - install what is missing, build, and generate text with the embedded model
#   make test  - install what is missing, build, and run the whole suite (what CI runs)

.PHONY: all setup build demo test unit-tests fuzz clean

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

fuzz: setup
	@bash scripts/run_fuzzers.sh

test: unit-tests fuzz

clean:
	rm -rf build

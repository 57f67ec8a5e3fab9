# The README's two commands: `make demo` and `make check`. Each installs what it needs.
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 10

.PHONY: all deps build build-asan check check-fast demo fuzz clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DNJ_SANITIZE=ON -DNJ_FUZZ=ON -DNJ_FUZZ_SECONDS=$(FUZZ_SECONDS)

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Everything: unit, end-to-end and crash tests on the normal build; unit, end-to-end and the
# fuzz targets (briefly) on the ASan+UBSan build.
check: build build-asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

check-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

# A longer fuzzing run: make fuzz FUZZ_SECONDS=600
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DNJ_SANITIZE=ON -DNJ_FUZZ=ON \
	  -DNJ_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L fuzz

demo: build
	NJ_BUILD_DIR=$(CURDIR)/$(BUILD) tests/demo/run $(if $(KEEP),--keep,)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

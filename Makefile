# rrvm - deterministic record/replay RISC-V emulator.
#
#   make            build/rrvm (optimised)
#   make asan       build/asan/rrvm (AddressSanitizer + UBSan)
#   make test       everything CI checks: both builds, unit tests, guest tests,
#                   system tests (installs nothing; run scripts/install-deps first)
#   make guest      build/guest/Image + rootfs.cpio (Linux 6.1, cached)
#   make bench      CPU benchmark vs QEMU
#
# Sources are found by wildcard: a new file in src/<layer>/ is built without
# touching this file.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation -Wshadow -Wstrict-prototypes
CPPFLAGS += -Isrc -D_GNU_SOURCE
LIBS    := -lfdt -lzstd -lxxhash -ljansson -lslirp -lz -lm
ASAN    := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

RV_CC   := riscv64-unknown-elf-gcc
PYTHON  := /usr/bin/python3

LIB_SRC  := $(sort $(wildcard src/util/*.c src/machine/*.c src/machine/cpu/*.c src/machine/dev/*.c src/replay/*.c src/host/*.c src/debug/*.c))
MAIN_SRC := $(sort $(wildcard src/cli/*.c))
HDRS     := $(wildcard src/*/*.h src/*/*/*.h)

OBJ      := $(LIB_SRC:%.c=build/obj/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=build/obj/%.o)
AOBJ     := $(LIB_SRC:%.c=build/asan/obj/%.o)
AMAIN_OBJ:= $(MAIN_SRC:%.c=build/asan/obj/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
AUNIT_BIN:= $(UNIT_SRC:tests/unit/%.c=build/asan/tests/%)

GUEST_SRC := $(sort $(wildcard tests/guest/*.S tests/guest/*.c))
GUEST_ELF := $(patsubst tests/guest/%,build/guest-tests/%.elf,$(basename $(filter-out tests/guest/lib%,$(GUEST_SRC))))
GUEST_LIB := $(filter tests/guest/lib%,$(GUEST_SRC))

.PHONY: all asan test test-nojit test-jit-check unit-test guest-test system-test guest bench bench-ckstore fuzz fuzz-smoke clean demo
all: build/rrvm

# softfp.c's host fast paths depend on every product being rounded where the
# source says so: no fusing of a*b+c into an fma the code did not ask for
# (and sqrt needs no errno branch: its argument is always positive).
build/obj/src/machine/cpu/softfp.o build/asan/obj/src/machine/cpu/softfp.o: CPPFLAGS += -ffp-contract=off -fno-math-errno

build/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

build/asan/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASAN) $(WARN) -c -o $@ $<

build/rrvm: $(OBJ) $(MAIN_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

build/asan/rrvm: $(AOBJ) $(AMAIN_OBJ)
	$(CC) $(ASAN) -o $@ $^ $(LIBS)

asan: build/asan/rrvm

build/tests/%: tests/unit/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(OBJ) $(LIBS) -lcmocka

build/asan/tests/%: tests/unit/%.c $(AOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASAN) $(WARN) -o $@ $< $(AOBJ) $(LIBS) -lcmocka

# Bare-metal guest tests: one program per file, linked at 0x80000000.
GUEST_CFLAGS := -march=rv64gc -mabi=lp64d -mcmodel=medany -static -nostdlib -nostartfiles \
                -O2 -Wall -T tests/guest/link.ld -Itests/guest
build/guest-tests/%.elf: tests/guest/%.S $(GUEST_LIB) tests/guest/libtest.h tests/guest/link.ld
	@mkdir -p $(dir $@)
	$(RV_CC) $(GUEST_CFLAGS) -o $@ $< $(GUEST_LIB) -lgcc
build/guest-tests/%.elf: tests/guest/%.c $(GUEST_LIB) tests/guest/libtest.h tests/guest/link.ld
	@mkdir -p $(dir $@)
	$(RV_CC) $(GUEST_CFLAGS) -o $@ $< $(GUEST_LIB) -lgcc

guest-tests: $(GUEST_ELF)

# test_session replays bare-metal guest tests in process
unit-test: $(GUEST_ELF)

# image hashes are cached under build/, never in ~/.cache
TEST_CACHE := RRVM_CACHE_DIR=$(CURDIR)/build/test-cache

unit-test: $(UNIT_BIN) $(AUNIT_BIN)
	@set -e; for t in $(UNIT_BIN) $(AUNIT_BIN); do echo "== $$t"; $(TEST_CACHE) $$t; done
	@scripts/run-qmp-protocol-test

guest-test: build/rrvm build/asan/rrvm $(GUEST_ELF)
	@scripts/run-guest-tests build/rrvm $(GUEST_ELF)
	@scripts/run-guest-tests build/asan/rrvm $(GUEST_ELF)

system-test: build/rrvm build/asan/rrvm $(GUEST_ELF)
	$(TEST_CACHE) $(PYTHON) -m pytest -q tests/system

# The JIT is invisible: the suites again with the interpreter alone, and
# the guest tests with every compiled block checked against the interpreter.
test-nojit: build/rrvm $(UNIT_BIN) $(GUEST_ELF)
	@set -e; for t in $(UNIT_BIN); do echo "== RRVM_JIT=off $$t"; RRVM_JIT=off $(TEST_CACHE) $$t; done
	@RRVM_JIT=off scripts/run-guest-tests build/rrvm $(GUEST_ELF)
	RRVM_JIT=off $(TEST_CACHE) $(PYTHON) -m pytest -q tests/system

test-jit-check: build/rrvm build/asan/rrvm build/tests/test_exact_count $(GUEST_ELF)
	@RRVM_JIT=check scripts/run-guest-tests build/rrvm $(GUEST_ELF)
	@RRVM_JIT=check scripts/run-guest-tests build/asan/rrvm $(GUEST_ELF)
	@RRVM_JIT=check build/tests/test_exact_count

test: unit-test guest-test guest fuzz-smoke system-test test-nojit test-jit-check

guest:
	scripts/build-guest build/guest

demo: build/rrvm guest
	scripts/demo

bench: build/rrvm
	bench/run-cpu-bench

# take/restore times of in-memory checkpoints on a 256 MiB guest
build/bench/ckstore_bench: bench/ckstore_bench.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(OBJ) $(LIBS)

bench-ckstore: build/bench/ckstore_bench
	build/bench/ckstore_bench

fuzz:
	scripts/run-fuzz
	scripts/run-fuzz-hart
	scripts/run-fuzz-snapshot
	scripts/run-fuzz-loader
	scripts/run-fuzz-state
	scripts/run-fuzz-blk
	scripts/run-fuzz-gdb
	scripts/run-fuzz-qmp
	scripts/run-fuzz-netdev
	scripts/run-fuzz-blockimg
	scripts/run-fuzz-virtio
	scripts/run-fuzz-chardev
	scripts/run-fuzz-softfp

# a short run of every fuzzer under ASan+UBSan, so every CI run fuzzes a bit
fuzz-smoke:
	FUZZ_SECONDS=20 scripts/run-fuzz
	FUZZ_SECONDS=20 scripts/run-fuzz-hart
	FUZZ_SECONDS=15 scripts/run-fuzz-snapshot
	FUZZ_SECONDS=15 scripts/run-fuzz-loader
	FUZZ_SECONDS=15 scripts/run-fuzz-state
	FUZZ_SECONDS=15 scripts/run-fuzz-blk
	FUZZ_SECONDS=15 scripts/run-fuzz-sesspos
	FUZZ_SECONDS=15 scripts/run-fuzz-gdb
	FUZZ_SECONDS=15 scripts/run-fuzz-qmp
	FUZZ_SECONDS=10 scripts/run-fuzz-netdev
	FUZZ_SECONDS=10 scripts/run-fuzz-blockimg
	FUZZ_SECONDS=15 scripts/run-fuzz-virtio
	FUZZ_SECONDS=10 scripts/run-fuzz-chardev
	FUZZ_SECONDS=15 scripts/run-fuzz-softfp

clean:
	rm -rf build/obj build/asan build/tests build/guest-tests build/rrvm

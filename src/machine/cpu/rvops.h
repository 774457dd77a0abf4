/*
 * rvops.h - the semantics of RISC-V integer operations that are more than
 * one C operator, defined once: the interpreter (exec.c) evaluates them
 * inline and the JIT (jit_x86.c) calls them from generated code.
 *
 * Invariants: pure functions of their operands (no state, no host
 * dependence); division by zero and signed overflow give the values the
 * ISA specifies (M extension, "Division by zero and division overflow"),
 * never a host trap.
 */
#ifndef RRVM_RVOPS_H
#define RRVM_RVOPS_H

#include <stdint.h>

static inline uint64_t rv_sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

static inline uint64_t rv_mulh(uint64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)b) >> 64);
}
static inline uint64_t rv_mulhsu(uint64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)(int64_t)a * (__int128)b) >> 64);
}
static inline uint64_t rv_mulhu(uint64_t a, uint64_t b) { return (uint64_t)(((unsigned __int128)a * b) >> 64); }

static inline uint64_t rv_div(uint64_t a_, uint64_t d_)
{
    int64_t a = (int64_t)a_, d = (int64_t)d_;
    return d == 0 ? UINT64_MAX : (a == INT64_MIN && d == -1) ? (uint64_t)a : (uint64_t)(a / d);
}
static inline uint64_t rv_divu(uint64_t a, uint64_t d) { return d == 0 ? UINT64_MAX : a / d; }
static inline uint64_t rv_rem(uint64_t a_, uint64_t d_)
{
    int64_t a = (int64_t)a_, d = (int64_t)d_;
    return d == 0 ? (uint64_t)a : (a == INT64_MIN && d == -1) ? 0 : (uint64_t)(a % d);
}
static inline uint64_t rv_remu(uint64_t a, uint64_t d) { return d == 0 ? a : a % d; }

static inline uint64_t rv_divw(uint64_t a_, uint64_t d_)
{
    int32_t a = (int32_t)a_, d = (int32_t)d_;
    return d == 0 ? UINT64_MAX : (a == INT32_MIN && d == -1) ? rv_sext32((uint32_t)a) : rv_sext32((uint32_t)(a / d));
}
static inline uint64_t rv_divuw(uint64_t a_, uint64_t d_)
{
    uint32_t a = (uint32_t)a_, d = (uint32_t)d_;
    return d == 0 ? UINT64_MAX : rv_sext32(a / d);
}
static inline uint64_t rv_remw(uint64_t a_, uint64_t d_)
{
    int32_t a = (int32_t)a_, d = (int32_t)d_;
    return d == 0 ? rv_sext32((uint32_t)a) : (a == INT32_MIN && d == -1) ? 0 : rv_sext32((uint32_t)(a % d));
}
static inline uint64_t rv_remuw(uint64_t a_, uint64_t d_)
{
    uint32_t a = (uint32_t)a_, d = (uint32_t)d_;
    return d == 0 ? rv_sext32(a) : rv_sext32(a % d);
}

#endif

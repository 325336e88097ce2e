// SHA-256 (FIPS 180-4) for intern's message tags (HMAC-SHA256 over every sealed message) and
// content digests. On x86-64 CPUs with the SHA extensions (SHA-NI) the block function uses them,
// about three times as fast as mbedtls's portable C; elsewhere a portable block function runs.
#ifndef INTERN_SHA256_H
#define INTERN_SHA256_H

#include <stddef.h>
#include <stdint.h>

/// A running SHA-256: the chaining state, the bytes absorbed, and a partial block.
typedef struct {
    uint32_t state[8];
    uint64_t length;
    uint8_t buffer[64];
    uint32_t buffered;
} intern_sha256;

void intern_sha256_init(intern_sha256 *context);
void intern_sha256_update(intern_sha256 *context, const void *bytes, size_t count);
/// Writes the 32-byte digest; the context must be initialised again before reuse.
void intern_sha256_final(intern_sha256 *context, uint8_t digest[32]);

/// 1 when the SHA-NI block function is in use.
int intern_sha256_accelerated(void);
/// Tests: 1 makes every later block use the portable function, 0 restores the choice by CPU.
void intern_sha256_force_portable(int portable);

#endif

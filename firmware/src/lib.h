/*
 * lib.h — the few C library functions a freestanding program needs (gcc may emit calls to
 * memcpy/memset itself), plus small string helpers.
 */
#ifndef FW_LIB_H
#define FW_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Whether the n-byte string `s` starts with the NUL-terminated `prefix`. */
bool starts_with(const char *s, size_t n, const char *prefix);
/* Whether the n-byte string `s` equals the NUL-terminated `word`. */
bool equals(const char *s, size_t n, const char *word);

#endif

/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): the entry points
 * libFuzzer calls, and a check that stops the run with a message when a
 * property the parser promises does not hold (libFuzzer then saves the
 * input). Crashes and sanitizer reports need no help: they stop it too. */
#ifndef REINS_TESTS_FUZZ_H
#define REINS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(condition)                                                                      \
        do {                                                                                       \
                if (!(condition)) {                                                                \
                        fprintf(stderr, "%s:%d: property does not hold: %s\n", __FILE__, __LINE__, \
                                #condition);                                                       \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

#endif

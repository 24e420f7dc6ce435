/* The module reader of isolation wasm (wasm/module.h) on hand-made
 * modules: a minimal WASI command, WASI imports with their own and with
 * wrong signatures, imports from elsewhere, a memory import, missing
 * exports, cut sections, a LEB128 number too long, the wrong magic. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wasm/module.h"

#define HEADER 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00
/* type 0: () -> (); type 1: (i32, i32, i32, i32) -> i32; type 2: (i64) -> i32 */
#define TYPES                                                                                      \
        0x01, 0x11, 0x03, 0x60, 0x00, 0x00, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60,  \
            0x01, 0x7e, 0x01, 0x7f
/* exports "_start" (func 0 or 1) and "memory" (memory 0) */
#define EXPORTS(f)                                                                                 \
        0x07, 0x13, 0x02, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, f, 0x06, 'm', 'e', 'm', 'o',   \
            'r', 'y', 0x02, 0x00
#define FUNCS_MEMORY 0x03, 0x02, 0x01, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01
#define CODE         0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b

/* import wasi_snapshot_preview1.fd_write with type `t` */
#define IMPORT_FD_WRITE(t)                                                                         \
        0x02, 0x23, 0x01, 0x16, 'w', 'a', 's', 'i', '_', 's', 'n', 'a', 'p', 's', 'h', 'o', 't',   \
            '_', 'p', 'r', 'e', 'v', 'i', 'e', 'w', '1', 0x08, 'f', 'd', '_', 'w', 'r', 'i', 't',  \
            'e', 0x00, t

static int inspect(const uint8_t *bytes, size_t length, struct wasm_module_info *info,
                   struct reins_error *err)
{
        memset(err, 0, sizeof(*err));
        return wasm_module_inspect(bytes, length, info, err);
}

static void test_minimal_command(void **state)
{
        (void)state;
        const uint8_t m[] = {HEADER, TYPES, FUNCS_MEMORY, EXPORTS(0x00), CODE};
        struct wasm_module_info info;
        struct reins_error err;
        assert_int_equal(inspect(m, sizeof(m), &info, &err), 0);
        assert_true(info.has_start && info.has_memory);
        assert_int_equal(info.imports.count, 0);
        assert_int_equal(info.initial_pages, 1);
        assert_int_equal(strlen(info.sha256), 64);
        wasm_module_info_free(&info);
}

static void test_wasi_import_with_its_signature(void **state)
{
        (void)state;
        const uint8_t m[] = {HEADER,       TYPES,         IMPORT_FD_WRITE(0x01),
                             FUNCS_MEMORY, EXPORTS(0x01), CODE};
        struct wasm_module_info info;
        struct reins_error err;
        assert_int_equal(inspect(m, sizeof(m), &info, &err), 0);
        assert_int_equal(info.imports.count, 1);
        assert_string_equal(info.imports.items[0], "wasi_snapshot_preview1.fd_write");
        wasm_module_info_free(&info);
}

static void test_wasi_import_with_another_signature(void **state)
{
        (void)state;
        const uint8_t m[] = {HEADER,       TYPES,         IMPORT_FD_WRITE(0x02),
                             FUNCS_MEMORY, EXPORTS(0x01), CODE};
        struct wasm_module_info info;
        struct reins_error err;
        assert_int_equal(inspect(m, sizeof(m), &info, &err), -ENOTSUP);
        assert_non_null(strstr(err.message, "fd_write with the signature (I:i)"));
        assert_int_equal(info.imports.count, 0);
}

static void test_foreign_and_memory_imports(void **state)
{
        (void)state;
        /* env.system: () -> () */
        const uint8_t foreign[] = {HEADER, TYPES, 0x02, 0x0e, 0x01,         0x03,          'e',
                                   'n',    'v',   0x06, 's',  'y',          's',           't',
                                   'e',    'm',   0x00, 0x00, FUNCS_MEMORY, EXPORTS(0x01), CODE};
        struct wasm_module_info info;
        struct reins_error err;
        assert_int_equal(inspect(foreign, sizeof(foreign), &info, &err), -ENOTSUP);
        assert_non_null(strstr(err.message, "env.system"));
        /* env.mem: a memory */
        const uint8_t memory[] = {HEADER, TYPES, 0x02,         0x0c,          0x01, 0x03, 'e',
                                  'n',    'v',   0x03,         'm',           'e',  'm',  0x02,
                                  0x00,   0x01,  FUNCS_MEMORY, EXPORTS(0x00), CODE};
        assert_int_equal(inspect(memory, sizeof(memory), &info, &err), -ENOTSUP);
        assert_non_null(strstr(err.message, "memory"));
}

static void test_not_a_command(void **state)
{
        (void)state;
        const uint8_t m[] = {HEADER, TYPES, FUNCS_MEMORY, CODE};
        struct wasm_module_info info;
        struct reins_error err;
        assert_int_equal(inspect(m, sizeof(m), &info, &err), -ENOTSUP);
        assert_non_null(strstr(err.message, "_start"));
}

static void test_malformed(void **state)
{
        (void)state;
        const uint8_t m[] = {HEADER, TYPES, FUNCS_MEMORY, EXPORTS(0x00), CODE};
        struct wasm_module_info info;
        struct reins_error err;
        /* every cut before the exports are whole is refused (a cut at a
         * section's end is a shorter module, which wasm2c judges); none is
         * read past (ASan, the fuzz target) */
        for (size_t cut = 0; cut < sizeof(m) - 6; cut++)
                assert_true(inspect(m, cut, &info, &err) < 0);
        const uint8_t leb[] = {HEADER, 0x01, 0xff, 0xff, 0xff, 0xff, 0x7f};
        assert_int_equal(inspect(leb, sizeof(leb), &info, &err), -EINVAL);
        uint8_t wrong[sizeof(m)];
        memcpy(wrong, m, sizeof(m));
        wrong[1] = 'E';
        assert_int_equal(inspect(wrong, sizeof(wrong), &info, &err), -EINVAL);
        assert_false(wasm_is_module(wrong, sizeof(wrong)));
        assert_true(wasm_is_module(m, sizeof(m)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_minimal_command),
            cmocka_unit_test(test_wasi_import_with_its_signature),
            cmocka_unit_test(test_wasi_import_with_another_signature),
            cmocka_unit_test(test_foreign_and_memory_imports),
            cmocka_unit_test(test_not_a_command),
            cmocka_unit_test(test_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

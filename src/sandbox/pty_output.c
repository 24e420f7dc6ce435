/* A small terminal-output state machine (ECMA-48's shape: ground, ESC,
 * CSI, strings ended by BEL or ST): just enough to place reins' notices. */
#include "sandbox/pty_output.h"

#include <stdlib.h>
#include <string.h>

enum output_state { OUT_GROUND, OUT_ESCAPE, OUT_CSI, OUT_STRING, OUT_STRING_ESCAPE };

static struct {
        enum output_state state;
        bool midline, alternate;
        char params[32]; /* a CSI's parameter bytes, cut at the size */
        size_t params_length;
} output;

/* The n-th (0-based) ';'-separated number of a CSI, or `absent`. */
static long csi_param(const char *params, int n, long absent)
{
        const char *p = params;
        if (*p == '?')
                p++;
        for (int i = 0; i < n; i++) {
                p = strchr(p, ';');
                if (!p)
                        return absent;
                p++;
        }
        return *p >= '0' && *p <= '9' ? strtol(p, NULL, 10) : absent;
}

static void csi_final(char final)
{
        const char *params = output.params;
        if (params[0] == '?' && (final == 'h' || final == 'l')) {
                /* DEC private modes 47, 1047, 1049: the alternate screen */
                for (int i = 0; i < 8; i++) {
                        long mode = csi_param(params, i, -1);
                        if (mode == 47 || mode == 1047 || mode == 1049)
                                output.alternate = final == 'h';
                }
        } else if (final == 'H' || final == 'f') {
                output.midline = csi_param(params, 1, 1) > 1; /* row;column */
        } else if (final == 'G') {
                output.midline = csi_param(params, 0, 1) > 1; /* column */
        }
}

static void observe_byte(unsigned char c)
{
        if (c == 0x18 || c == 0x1a) { /* CAN, SUB: any sequence is cancelled */
                output.state = OUT_GROUND;
                return;
        }
        switch (output.state) {
        case OUT_GROUND:
                if (c == 0x1b)
                        output.state = OUT_ESCAPE;
                else if (c == '\r')
                        output.midline = false;
                else if (c >= 0x20 && c != 0x7f)
                        output.midline = true;
                /* a bare '\n' keeps the column (the sandbox's pty turns it
                 * into "\r\n" unless a program made it raw) */
                return;
        case OUT_ESCAPE:
                if (c == '[') {
                        output.state = OUT_CSI;
                        output.params_length = 0;
                        output.params[0] = '\0';
                } else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X') {
                        output.state = OUT_STRING;
                } else if (c >= 0x20 && c <= 0x2f) {
                        /* an intermediate byte: the sequence goes on */
                } else {
                        if (c == 'c') { /* RIS: the terminal is reset */
                                output.alternate = false;
                                output.midline = false;
                        }
                        output.state = OUT_GROUND;
                }
                return;
        case OUT_CSI:
                if (c >= 0x40 && c <= 0x7e) {
                        csi_final((char)c);
                        output.state = OUT_GROUND;
                } else if (c == 0x1b) {
                        output.state = OUT_ESCAPE;
                } else if (c >= 0x30 && c <= 0x3f &&
                           output.params_length + 1 < sizeof(output.params)) {
                        output.params[output.params_length++] = (char)c;
                        output.params[output.params_length] = '\0';
                }
                return;
        case OUT_STRING:
                if (c == 0x07)
                        output.state = OUT_GROUND;
                else if (c == 0x1b)
                        output.state = OUT_STRING_ESCAPE;
                return;
        case OUT_STRING_ESCAPE:
                output.state = c == '\\' ? OUT_GROUND : OUT_STRING;
                return;
        }
}

void pty_output_observe(const char *bytes, size_t length)
{
        for (size_t i = 0; i < length; i++)
                observe_byte((unsigned char)bytes[i]);
}

void pty_output_get(struct pty_output_view *view)
{
        view->midline = output.midline;
        view->alternate = output.alternate;
        view->in_sequence = output.state != OUT_GROUND;
}

void pty_output_notice_written(bool line)
{
        output.state = OUT_GROUND;
        if (line)
                output.midline = false;
}

void pty_output_reset(void)
{
        memset(&output, 0, sizeof(output));
}

#include "cli/notice.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox/pty_output.h"
#include "util/fileio.h"
#include "util/text_escape.h"

#define NOTICE_PREFIX "reins: "

/* A terminal whose output is not post-processed (cfmakeraw clears OPOST):
 * "\n" does not return the carriage there. */
static bool notice_terminal_is_raw(int fd)
{
        struct termios t;
        return isatty(fd) && tcgetattr(fd, &t) == 0 &&
               (!(t.c_oflag & OPOST) || !(t.c_oflag & ONLCR));
}

/* The longest prefix of `text` that fits in `columns` cells, counting every
 * non-ASCII character as two (wide characters are) and never cutting one. */
static size_t notice_fit(const char *text, size_t columns)
{
        size_t used = 0, at = 0;
        while (text[at]) {
                size_t length = 1, width = 1;
                unsigned char c = (unsigned char)text[at];
                if (c >= 0x80) {
                        length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
                        width = 2;
                }
                if (used + width > columns || strnlen(text + at, length) < length)
                        break;
                used += width;
                at += length;
        }
        return at;
}

/* The alternate screen: the bottom row, in reverse video, one cell short of
 * the width (writing the last cell could wrap and scroll), cursor saved
 * (DECSC) and restored (DECRC) around it. */
static void notice_status_line(const char *shown)
{
        struct winsize size = {0};
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) < 0 || size.ws_row == 0 || size.ws_col < 2)
                size = (struct winsize){.ws_row = 24, .ws_col = 80};
        size_t room = (size_t)size.ws_col - 1;
        size_t prefix = strlen(NOTICE_PREFIX) < room ? strlen(NOTICE_PREFIX) : room;
        size_t fit = notice_fit(shown, room - prefix);
        char *line = NULL;
        int n = asprintf(&line, "\0337\033[%u;1H\033[2K\033[7m%.*s%.*s\033[0m\0338",
                         (unsigned)size.ws_row, (int)prefix, NOTICE_PREFIX, (int)fit, shown);
        if (n > 0)
                (void)fileio_write_all(STDERR_FILENO, line, (size_t)n);
        free(line);
}

static void notice_write_terminal(const char *text, unsigned escape_flags)
{
        char *shown = text_escape_dup(text, strlen(text), escape_flags);
        if (!shown)
                return;
        if (!notice_terminal_is_raw(STDERR_FILENO)) {
                fprintf(stderr, NOTICE_PREFIX "%s\n", shown);
                free(shown);
                return;
        }
        struct pty_output_view view;
        pty_output_get(&view);
        fflush(stderr);
        /* CAN: if the relayed output stopped inside an escape sequence, the
         * terminal drops it instead of reading this line as its parameters */
        if (view.in_sequence)
                (void)fileio_write_all(STDERR_FILENO, "\030", 1);
        if (view.alternate) {
                notice_status_line(shown);
        } else {
                char *line = NULL;
                int n = asprintf(&line, "%s\r" NOTICE_PREFIX "%s\r\n", view.midline ? "\r\n" : "",
                                 shown);
                if (n > 0)
                        (void)fileio_write_all(STDERR_FILENO, line, (size_t)n);
                free(line);
        }
        pty_output_notice_written(!view.alternate);
        free(shown);
}

void cli_notice_install(void)
{
        notice_set_writer(notice_write_terminal);
}

void cli_error(const struct reins_error *err)
{
        notice("%s", err->message[0] ? err->message : "unknown error");
}

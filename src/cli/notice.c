#include "cli/notice.h"

void cli_error(const struct reins_error *err)
{
        notice("%s", err->message[0] ? err->message : "unknown error");
}

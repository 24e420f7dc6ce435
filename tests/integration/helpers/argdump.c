/* Print every argument after argv[0], each followed by a NUL byte, so the
 * test can compare the command's argv byte for byte. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
        for (int i = 1; i < argc; i++)
                fwrite(argv[i], 1, strlen(argv[i]) + 1, stdout);
        return 0;
}

/* greenops run: not built yet. */
#include "cli/commands.h"

const char usage_run[] = "usage: greenops run [options] -- COMMAND [ARGS...]\n";

int cmd_run(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("run", "not built yet");
}

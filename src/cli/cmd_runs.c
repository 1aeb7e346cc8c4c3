/* greenops runs: not built yet. */
#include "cli/commands.h"

const char usage_runs[] = "usage: greenops runs\n\nNot built yet.\n";

int cmd_runs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("runs", "not built yet");
}

/* greenops analyze: not built yet. */
#include "cli/commands.h"

const char usage_analyze[] = "usage: greenops analyze\n\nNot built yet.\n";

int cmd_analyze(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("analyze", "not built yet");
}

/* greenops show: not built yet. */
#include "cli/commands.h"

const char usage_show[] = "usage: greenops show\n\nNot built yet.\n";

int cmd_show(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("show", "not built yet");
}

/* greenops list: not built yet. */
#include "cli/commands.h"

const char usage_list[] = "usage: greenops list\n\nNot built yet.\n";

int cmd_list(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("list", "not built yet");
}

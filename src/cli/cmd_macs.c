/* greenops macs: not built yet. */
#include "cli/commands.h"

const char usage_macs[] = "usage: greenops macs\n\nNot built yet.\n";

int cmd_macs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("macs", "not built yet");
}

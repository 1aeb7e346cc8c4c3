/* greenops idle: not built yet. */
#include "cli/commands.h"

const char usage_idle[] = "usage: greenops idle\n\nNot built yet.\n";

int cmd_idle(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("idle", "not built yet");
}

/* greenops export: not built yet. */
#include "cli/commands.h"

const char usage_export[] = "usage: greenops export\n\nNot built yet.\n";

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("export", "not built yet");
}

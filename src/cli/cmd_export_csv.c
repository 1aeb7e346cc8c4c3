/* greenops export-csv: not built yet. */
#include "cli/commands.h"

const char usage_export_csv[] = "usage: greenops export-csv\n\nNot built yet.\n";

int cmd_export_csv(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("export-csv", "not built yet");
}

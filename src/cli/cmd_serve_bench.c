/* greenops serve-bench: not built yet. */
#include "cli/commands.h"

const char usage_serve_bench[] = "usage: greenops serve-bench\n\nNot built yet.\n";

int cmd_serve_bench(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cmd_error("serve-bench", "not built yet");
}

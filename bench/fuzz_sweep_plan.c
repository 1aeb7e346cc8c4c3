/* libFuzzer entry point for the sweep plan reader: any byte string must give a plan or one
 * error line naming the file, never a crash, a leak or undefined behaviour; a plan that reads
 * must also order and expand without trouble. Built and run by bench/fuzz.sh sweep_plan. */
#include "sweep/plan.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sweep_plan p;
	char err[512];
	if (sweep_plan_parse(&p, "fuzz.yaml", (const char *)data, size, err, sizeof err) != 0) {
		if (strncmp(err, "fuzz.yaml:", 10) || strchr(err, '\n'))
			__builtin_trap(); /* every error is one line naming file, line and column */
		sweep_plan_release(&p);
		return 0;
	}
	struct sweep_slot *slots;
	size_t n;
	if (sweep_plan_n_configs(&p) <= 4096 && sweep_plan_order(&p, &slots, &n) == 0) {
		struct sweep_builtins b = {.greenops = "greenops", .port = "1", .rep = 1, .sweep_id = 1};
		for (size_t i = 0; i < n && i < 64; i++)
			for (size_t a = 0; a < p.argc; a++)
				free(sweep_expand(&p, &p.argv[a], slots[i].config, &b, err, sizeof err));
		free(slots);
	}
	sweep_plan_release(&p);
	return 0;
}

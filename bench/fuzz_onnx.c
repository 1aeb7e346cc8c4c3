/* libFuzzer entry point for the ONNX reader and the MAC counter: any byte string must give a
 * count or a one-line error, never a crash, a leak or undefined behaviour.
 * Built and run by bench/fuzz.sh onnx. */
#include "model/macs.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gops_macs_options o;
	gops_macs_options_init(&o);
	o.all_nodes = true;
	struct gops_macs_result r;
	char err[512];
	if (gops_macs_count_buffer(data, size, "fuzz.onnx", &o, &r, err, sizeof err) != 0 &&
	    !strstr(err, "fuzz.onnx"))
		__builtin_trap(); /* every error names its file */
	gops_macs_result_release(&r);
	return 0;
}

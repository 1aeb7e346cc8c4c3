/* The library's version string, set by the build. */
#include <greenops/greenops.h>

#ifndef GOPS_VERSION_STRING
#define GOPS_VERSION_STRING "0.0.0"
#endif

const char *gops_version(void)
{
	return GOPS_VERSION_STRING;
}

/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * modparam preload (see preload.h).
 */

#include <string.h>

#include "../../core/dprint.h"

#include "ops.h"
#include "preload.h"

/* as stock usrloc's UL_PRELOAD_SIZE */
#define AOR_PRELOAD_MAX 8

static char *names[AOR_PRELOAD_MAX];
static int nnames = 0;

int aor_preload_param(modparam_t type, void *val)
{
	if(val == NULL)
		return -1;
	if(nnames == AOR_PRELOAD_MAX) {
		LM_ERR("modparam preload: more than %d tables (%s)\n", AOR_PRELOAD_MAX,
				(char *)val);
		return -1;
	}
	/* the cfg parser's copy lives as long as the process */
	names[nnames++] = (char *)val;
	return 0;
}

int aor_preload_tables(void)
{
	str s;
	int i;

	for(i = 0; i < nnames; i++) {
		s.s = names[i];
		s.len = strlen(names[i]);
		if(aor_table_get(&s) == NULL) {
			LM_ERR("modparam preload: cannot make table \"%s\"\n", names[i]);
			return -1;
		}
	}
	return 0;
}

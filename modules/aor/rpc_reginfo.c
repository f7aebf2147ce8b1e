/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * aor.reginfo: an AoR's state as an RFC 3680 document.
 */

#include "rpc.h"

/* clang-format off */
rpc_export_t aor_reginfo_rpc_cmds[] = {
	{0, 0, 0, 0}
};
/* clang-format on */

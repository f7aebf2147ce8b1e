/*
 * kamailio-aor - SIP registrar module for Kamailio
 *
 * This program is free software; you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 2 of the License, or
 * (at your option) any later version.
 *
 * The aor.* RPC commands (kamcmd, jsonrpcs).
 */

#ifndef AOR_RPC_H
#define AOR_RPC_H

#include "../../core/rpc.h"

extern rpc_export_t aor_rpc_cmds[];
/* aor.reginfo (rpc_reginfo.c) */
extern rpc_export_t aor_reginfo_rpc_cmds[];

#endif /* AOR_RPC_H */

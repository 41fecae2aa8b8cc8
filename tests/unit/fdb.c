// SPDX-License-Identifier: BSD-2-Clause
/* test: VALE forwarding database (placeholder, being written) */
#include "../../daemon/vale/fdb.c"
int main(void) { return 77; }

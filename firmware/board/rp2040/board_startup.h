/* Shared by startup.S and board.c (so: no C-only syntax here). */
#ifndef PRIOT_BOARD_STARTUP_H
#define PRIOT_BOARD_STARTUP_H
/* Word written over the whole stack at reset; board_stack_peak() looks for it. */
#define BOARD_STACK_PAINT 0x5AC3A55C
#endif

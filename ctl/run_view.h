/*
 * The live view of a run (run_view.c).
 */
#ifndef FL_RUN_VIEW_H
#define FL_RUN_VIEW_H

#include <stdbool.h>

struct run;

/* The live view: redraw (terminal) or print new timeline lines (otherwise). */
void run_view_update(struct run *r, bool final);

#endif

/* The thread rule (include/shoal.h, "Threads"), enforced: every loop-only
 * entry point of the library, the services' included, starts with
 * SHOAL_LOOP_ONLY. Services include this header and nothing else of the
 * node's internals. */
#ifndef SHOAL_NODE_THREAD_H
#define SHOAL_NODE_THREAD_H

#include "shoal.h"

/* 1 when the caller may touch node: the loop is not running (a node being
 * set up, or one whose shoal_node_run() has returned), or the caller is
 * the thread running it. Otherwise 0, and the first such call on a node
 * logs "wrong_thread fn=FN" at ERROR. Any thread. */
int shoal_node_on_loop_thread(const shoal_node *node, const char *fn);

/* 1 when the caller is the thread running the node's loop now. Any
 * thread. */
int shoal_node_in_loop_thread(const shoal_node *node);

/* Returns the rest of the arguments (nothing, for a function returning
 * void) from the calling function when it runs on the wrong thread,
 * before it has touched any state. */
#define SHOAL_LOOP_ONLY(node, ...)                                        \
    do {                                                                  \
        if (!shoal_node_on_loop_thread((node), __func__))                 \
            return __VA_ARGS__;                                           \
    } while (0)

#endif

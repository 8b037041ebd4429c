/* Which thread may call the node. The loop's thread is learned from the
 * loop itself: for a node with a loop of its own, shoal_node_run() records
 * it while it runs the loop; on an application's loop, a prepare handle
 * records it on every turn of the loop, so a node embedded in an
 * application is covered too. Both are read from other threads, hence the
 * atomics. */
#include "node/node_internal.h"
#include "node/thread.h"

void shoal_node_thread_set(shoal_node *node, int running)
{
    uv_thread_t self = uv_thread_self();

    __atomic_store_n(&node->loop_thread, self, __ATOMIC_RELAXED);
    __atomic_store_n(&node->loop_running, running, __ATOMIC_RELEASE);
}

int shoal_node_in_loop_thread(const shoal_node *node)
{
    uv_thread_t self, loop_thread;

    if (!__atomic_load_n(&node->loop_running, __ATOMIC_ACQUIRE))
        return 0;
    self = uv_thread_self();
    loop_thread = __atomic_load_n(&node->loop_thread, __ATOMIC_RELAXED);
    return uv_thread_equal(&self, &loop_thread);
}

int shoal_node_on_loop_thread(const shoal_node *node, const char *fn)
{
    if (node == NULL || /* the function's own checks refuse it */
        !__atomic_load_n(&node->loop_running, __ATOMIC_ACQUIRE) ||
        shoal_node_in_loop_thread(node))
        return 1;
    /* Once per node: a program that gets this wrong gets it wrong often. */
    if (!__atomic_exchange_n((int *)&node->wrong_thread_logged, 1,
                             __ATOMIC_RELAXED))
        SHOAL_LOG(&node->log, SHOAL_LOG_ERROR,
                  "wrong_thread fn=%s why=\"not the loop's thread: "
                  "use shoal_post()\"",
                  fn);
    return 0;
}

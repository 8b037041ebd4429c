/* The blocking request helper: another thread posts a request to the loop
 * and sleeps until its end callback wakes it. */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"

typedef struct sync_call {
    uv_mutex_t lock;
    uv_cond_t cond;
    int finished;
    int status;
    const char *addr;
    const char *type;
    const void *data;
    size_t len;
    uint32_t timeout_ms;
    shoal_replies *out;
    size_t cap;
} sync_call;

static void sync_on_reply(const shoal_msg *reply, void *user)
{
    sync_call *call = user;
    shoal_replies *r = call->out;
    uint8_t *copy;

    if (r->count == call->cap) {
        size_t cap = call->cap ? call->cap * 2 : 4;
        shoal_msg *grown = realloc(r->msgs, cap * sizeof(*grown));
        if (grown == NULL)
            return; /* the reply is lost; status stays as the wire says */
        r->msgs = grown;
        call->cap = cap;
    }
    copy = malloc(reply->len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, reply->data, reply->len);
    copy[reply->len] = '\0'; /* text payloads can be printed as is */
    r->msgs[r->count] = *reply;
    r->msgs[r->count].data = copy;
    r->count++;
}

static void sync_on_end(int status, void *user)
{
    sync_call *call = user;

    uv_mutex_lock(&call->lock);
    call->status = status;
    call->finished = 1;
    uv_cond_signal(&call->cond);
    uv_mutex_unlock(&call->lock);
}

static void sync_start(shoal_node *node, void *user)
{
    sync_call *call = user;
    int rc = shoal_request(node, call->addr, call->type, call->data,
                           call->len, call->timeout_ms, sync_on_reply,
                           sync_on_end, call);
    if (rc < 0)
        sync_on_end(rc, call);
}

int shoal_request_sync(shoal_node *node, const char *addr, const char *type,
                       const void *data, size_t len, uint32_t timeout_ms,
                       shoal_replies *out)
{
    sync_call call;
    int rc;

    if (out == NULL)
        return SHOAL_EINVAL;
    memset(out, 0, sizeof(*out));
    if (shoal_node_in_loop_thread(node) && !node->stopped)
        return SHOAL_EBUSY; /* would wait on ourselves forever */
    memset(&call, 0, sizeof(call));
    call.addr = addr;
    call.type = type;
    call.data = data;
    call.len = len;
    call.timeout_ms = timeout_ms;
    call.out = out;
    uv_mutex_init(&call.lock);
    uv_cond_init(&call.cond);
    rc = shoal_post(node, sync_start, &call);
    if (rc == 0) {
        uv_mutex_lock(&call.lock);
        while (!call.finished)
            uv_cond_wait(&call.cond, &call.lock);
        uv_mutex_unlock(&call.lock);
        rc = call.status;
    }
    uv_cond_destroy(&call.cond);
    uv_mutex_destroy(&call.lock);
    return rc;
}

void shoal_replies_free(shoal_replies *replies)
{
    size_t i;

    if (replies == NULL)
        return;
    for (i = 0; i < replies->count; i++)
        free((void *)(uintptr_t)replies->msgs[i].data);
    free(replies->msgs);
    replies->msgs = NULL;
    replies->count = 0;
}

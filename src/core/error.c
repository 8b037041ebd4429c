#include "shoal.h"

const char *shoal_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case SHOAL_EFULL:
        return "peer table is full";
    case SHOAL_ENOROUTE:
        return "no route to peer";
    case SHOAL_EBADADDR:
        return "address cannot be parsed";
    case SHOAL_ECLOSED:
        return "connection closed";
    case SHOAL_EBUSY:
        return "not allowed in this state or on this thread";
    case SHOAL_ETIMEDOUT:
        return "deadline passed";
    case SHOAL_EMSGSIZE:
        return "message too large";
    case SHOAL_EPROTO:
        return "protocol error";
    case SHOAL_ENOBUFS:
        return "too much output pending";
    case SHOAL_EEXIST:
        return "already present";
    case SHOAL_ENOENT:
        return "not found";
    }
    /* Only codes libuv knows: for others uv_strerror() returns a string it
     * allocates and never frees ("Unknown system error N"). */
    switch (err) {
#define SHOAL_UV_CODE(name, _) case UV_##name:
        UV_ERRNO_MAP(SHOAL_UV_CODE)
#undef SHOAL_UV_CODE
        return uv_strerror(err);
    }
    return "unknown error";
}

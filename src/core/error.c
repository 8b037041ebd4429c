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
    case SHOAL_EPEERID:
        return "the peer proved another peer id";
    case SHOAL_EWRONGWIRE:
        return "the remote speaks the other wire (classic or secure)";
    case SHOAL_ESELF:
        return "the address is this node's own";
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

const char *shoal_err_name(int err)
{
    switch (err) {
    case 0:
        return "0";
#define SHOAL_NAMED(name) case name: return #name;
    /* shoal.h's names first: its aliases of libuv codes win over libuv's */
    SHOAL_NAMED(SHOAL_EINVAL)
    SHOAL_NAMED(SHOAL_ENOMEM)
    SHOAL_NAMED(SHOAL_ETIMEDOUT)
    SHOAL_NAMED(SHOAL_ECANCELED)
    SHOAL_NAMED(SHOAL_ECONNREFUSED)
    SHOAL_NAMED(SHOAL_EEXIST)
    SHOAL_NAMED(SHOAL_ENOENT)
    SHOAL_NAMED(SHOAL_EMSGSIZE)
    SHOAL_NAMED(SHOAL_EPROTO)
    SHOAL_NAMED(SHOAL_ENOBUFS)
    SHOAL_NAMED(SHOAL_EFULL)
    SHOAL_NAMED(SHOAL_ENOROUTE)
    SHOAL_NAMED(SHOAL_EBADADDR)
    SHOAL_NAMED(SHOAL_ECLOSED)
    SHOAL_NAMED(SHOAL_EBUSY)
    SHOAL_NAMED(SHOAL_EPEERID)
    SHOAL_NAMED(SHOAL_EWRONGWIRE)
    SHOAL_NAMED(SHOAL_ESELF)
#undef SHOAL_NAMED
    }
    /* The rest of libuv's, by its macro names (uv_err_name() would leak a
     * string for a code it does not know, and names without the UV_). */
    switch (err) {
#define SHOAL_UV_NAME(name, _) case UV_##name: return "UV_" #name;
        UV_ERRNO_MAP(SHOAL_UV_NAME)
#undef SHOAL_UV_NAME
    }
    return "UNKNOWN";
}

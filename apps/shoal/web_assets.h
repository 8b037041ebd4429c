/* The web UI's files, compiled into the program (see embed.cmake). */
#ifndef SHOAL_WEB_ASSETS_H
#define SHOAL_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;           /* "/index.html", "/app.js", ... */
    const char *type;           /* its Content-Type */
    const unsigned char *data;
    size_t len;
} web_asset;

/* Ends with an entry whose path is NULL. */
extern const web_asset web_assets[];

#endif

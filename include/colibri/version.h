/* version.h — the release of this build. */
#ifndef COLIBRI_VERSION_H
#define COLIBRI_VERSION_H

#define COLIBRI_VERSION "0.1.0"

#endif

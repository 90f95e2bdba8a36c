#ifndef SIDECAR_CSYSTEMD_SHIM_H
#define SIDECAR_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#endif
